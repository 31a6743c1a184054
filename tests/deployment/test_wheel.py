"""The wheel the image installs: the portal with its templates, static files, catalogs and
migrations, and without the emulators (demo and tests only)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def tracked(*folders: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", *folders], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return listed.stdout.split()


def test_the_wheel_holds_no_emulator_test_or_benchmark(wheel_names):
    tops = {name.split("/", 1)[0] for name in wheel_names}
    assert {"portal", "backend", "migrations"} <= tops
    assert not tops & {"emulators", "tests", "bench", "scripts", "examples"}


@pytest.mark.parametrize(
    "folder",
    ["portal/templates", "portal/static", "portal/locale", "migrations", "backend/orders/data"],
)
def test_the_wheel_holds_every_file_the_portal_reads_at_run_time(wheel_names, folder):
    files = tracked(folder)
    assert files
    assert [name for name in files if name not in wheel_names] == []


def test_the_wheel_holds_every_module_of_the_portal_and_the_backend(wheel_names):
    modules = [name for name in tracked("portal", "backend") if name.endswith(".py")]
    assert [name for name in modules if name not in wheel_names] == []
