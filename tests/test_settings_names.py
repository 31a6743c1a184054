"""Every PORTAL_* name the repo reads or writes is a setting or on the allow-list.

The allow-list in portal/settings_checks.py lets a few names through the start's check for
misspelt settings; a name read elsewhere and missing from it would stop `portal` in CI.
"""

import re
import subprocess
from dataclasses import fields
from pathlib import Path

from portal.settings import Settings
from portal.settings_checks import ALLOWED_PREFIXES, ALLOWED_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"PORTAL_[A-Z0-9_]+")
TEXT = (".py", ".md", ".toml", ".cfg", ".sh", ".yml", ".yaml", ".example", "Makefile", "run")
# These spell names wrong on purpose (so do lines quoting the refusal, which are skipped).
WRONG_ON_PURPOSE = {
    "tests/portal/test_settings_checks.py",
    "tests/process/test_settings_refused.py",
}


def repo_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if name.endswith(TEXT) and name not in WRONG_ON_PURPOSE]


def test_every_portal_name_in_the_repo_is_a_setting_or_allowed():
    settings = {f"PORTAL_{spec.name.upper()}" for spec in fields(Settings)}
    unknown: dict[str, str] = {}
    for path in repo_files():
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for name in NAME.findall("\n".join(x for x in lines if "is not a setting" not in x)):
            if name.endswith("_"):  # a prefix in prose or an f-string: PORTAL_SENDER_*
                continue
            if name in settings or name in ALLOWED_VARIABLES or name.startswith(ALLOWED_PREFIXES):
                continue
            unknown.setdefault(name, str(path.relative_to(ROOT)))
    assert not unknown, (
        "not a setting: make it a field of Settings, or add it to ALLOWED_VARIABLES in "
        f"portal/settings_checks.py: {unknown}"
    )
