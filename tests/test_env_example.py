"""`.env.example` is what `portal settings --env-example` prints: every setting, commented."""

from dataclasses import fields
from pathlib import Path

from portal.settings import VAR_DIR, Settings, load_settings
from portal.settings_example import build_env_example

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def test_the_file_in_the_repo_is_what_the_generator_prints():
    assert EXAMPLE.read_text(encoding="utf-8") == build_env_example(), (
        "run: .venv/bin/portal settings --env-example > .env.example"
    )


def test_every_setting_is_listed_once_with_its_default_after_its_help():
    lines = build_env_example().splitlines()
    for spec in fields(Settings):
        variable = f"PORTAL_{spec.name.upper()}"
        listed = [n for n, line in enumerate(lines) if line.startswith(f"#{variable}=")]
        assert len(listed) == 1, variable
        assert lines[listed[0] - 1].startswith("# "), f"{variable} has no help line above it"
    assert "#PORTAL_THREADS=4" in lines
    assert "#PORTAL_FAST_REFUND=1" in lines
    assert "#PORTAL_PHOTO_DIR=var/photos" in lines


def test_the_defaults_it_gives_are_read_back_as_the_defaults():
    environ = {}
    for line in build_env_example().splitlines():
        if line.startswith("#PORTAL_") and not line.endswith("="):
            name, _, value = line.removeprefix("#").partition("=")
            environ[name] = value
    loaded = load_settings(environ, secret_keys=("k" * 32,))
    for spec in fields(Settings):
        if f"PORTAL_{spec.name.upper()}" not in environ:
            continue
        if str(VAR_DIR) in str(spec.default):  # written var/..., the working directory's
            continue
        assert getattr(loaded, spec.name) == spec.default, spec.name
