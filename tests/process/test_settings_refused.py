"""A `portal` process refuses bad settings before it starts: exit 2, one line, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TEST_KEYS
from tests.process.processes import PORTAL, ROOT


def run_portal(tmp_path: Path, *command: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    environment |= {
        "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "PORTAL_SECRET_KEYS": ",".join(TEST_KEYS),
    }
    environment = {k: v for k, v in (environment | variables).items() if v != "(unset)"}
    return subprocess.run(
        [str(PORTAL), *command],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_refused(result: subprocess.CompletedProcess[str], beginning: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"portal: {beginning}"), lines[0]


@pytest.mark.parametrize(
    ("variables", "beginning"),
    [
        (
            {"PORTAL_BASE_ULR": "https://portal.example.cn"},
            "PORTAL_BASE_ULR is not a setting; did you mean PORTAL_BASE_URL?",
        ),
        ({"PORTAL_THREADS": "four"}, "PORTAL_THREADS: 'four' is not a whole number"),
        ({"PORTAL_PAGE_CACHE_SIZE": "-5"}, "PORTAL_PAGE_CACHE_SIZE: -5 is below 0"),
        (
            {"PORTAL_WAYBILL_PROVIDERS": "shunfeng=sf,zhongtong"},
            "PORTAL_WAYBILL_PROVIDERS: 'zhongtong' is not carrier=kuaidi100|sf",
        ),
        (
            {"PORTAL_SMS_TEMPLATES": "shiped=SMS_1"},
            "PORTAL_SMS_TEMPLATES: 'shiped=SMS_1': 'shiped' is not one of",
        ),
        (
            {"PORTAL_BASE_URL": "https://portal.example.cn", "PORTAL_SECRET_KEYS": "(unset)"},
            "PORTAL_SECRET_KEYS is required with an https base URL",
        ),
    ],
)
def test_portal_migrate_is_refused_and_makes_no_database(tmp_path, variables, beginning):
    result = run_portal(tmp_path, "migrate", **variables)
    assert_refused(result, beginning)
    assert not (tmp_path / "portal.db").exists()
    assert not (tmp_path / "var" / "secret.key").exists()  # nothing made on this machine


def test_portal_serve_with_https_and_no_signing_keys_never_listens(tmp_path):
    port = free_port()
    result = run_portal(
        tmp_path,
        "serve",
        "--port",
        str(port),
        PORTAL_BASE_URL="https://portal.example.cn",
        PORTAL_SECRET_KEYS="(unset)",
    )
    assert_refused(result, "PORTAL_SECRET_KEYS is required with an https base URL")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # still free: nothing was served


def test_portal_settings_accepts_a_good_environment(tmp_path):
    result = run_portal(tmp_path, "settings", PORTAL_THREADS="8", PORTAL_FAST_REFUND="off")
    assert (result.returncode, result.stdout, result.stderr) == (0, "settings accepted\n", "")


def test_portal_settings_env_example_prints_the_file_in_the_repo(tmp_path):
    result = run_portal(tmp_path, "settings", "--env-example")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / ".env.example").read_text(encoding="utf-8")
