"""`portal backup DEST`: an online SQLite copy that never holds up a writer, and its refusals."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from backend.backup import backup_sqlite
from tests.process.processes import PORTAL, ROOT

PADDING_ROWS = 40_000  # about 10 MB: the copy takes dozens of steps


@pytest.fixture
def source(sqlite_template: Path, tmp_path: Path) -> Path:
    """A migrated portal database in WAL mode, with a table a writer can append to."""
    path = tmp_path / "portal.db"
    shutil.copy(sqlite_template, path)
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, pad TEXT NOT NULL)")
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO probe (pad) VALUES (?)", (("x" * 200,) for _ in range(PADDING_ROWS))
        )
        connection.execute("COMMIT")
    connection.close()
    return path


class Writer(threading.Thread):
    """Commits one row after another; with no busy timeout, any wait for a lock is an error."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stopping = path, threading.Event()
        self.committed: list[tuple[float, int]] = []  # (monotonic time, row id)
        self.refused: list[str] = []

    def run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        connection.execute("PRAGMA busy_timeout=0")
        while not self.stopping.is_set():
            try:
                connection.execute("BEGIN IMMEDIATE")
                row = connection.execute("INSERT INTO probe (pad) VALUES ('w')").lastrowid
                connection.execute("COMMIT")
            except sqlite3.OperationalError as error:
                self.refused.append(str(error))
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            else:
                self.committed.append((time.monotonic(), int(row or 0)))
            time.sleep(0.001)
        connection.close()

    def count_until(self, moment: float) -> int:
        return sum(1 for at, _ in self.committed if at <= moment)


def test_writers_keep_committing_through_a_backup_that_holds_a_consistent_snapshot(
    source: Path, tmp_path: Path
) -> None:
    writer = Writer(source)
    writer.start()
    while len(writer.committed) < 20:
        time.sleep(0.01)
    destination = tmp_path / "backup.db"
    started = time.monotonic()
    result = backup_sqlite(f"sqlite:///{source}", destination)
    ended = time.monotonic()
    time.sleep(0.05)
    writer.stopping.set()
    writer.join(timeout=30)

    assert writer.refused == []  # never made to wait for a lock, not even once
    assert result.steps > 10
    during = writer.count_until(ended) - writer.count_until(started)
    assert during >= 5  # commits landed between the copy's steps
    with sqlite3.connect(destination) as backup:
        assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = [row for (row,) in backup.execute("SELECT id FROM probe ORDER BY id")]
        version = backup.execute("SELECT version_num FROM alembic_version").fetchall()
    backup.close()
    # One snapshot: every row committed before the backup began, then a gapless run of the
    # writer's rows, none committed after the backup had returned.
    assert ids == list(range(1, len(ids) + 1))
    assert len(ids) >= PADDING_ROWS + writer.count_until(started)
    assert len(ids) <= PADDING_ROWS + writer.count_until(ended)
    with sqlite3.connect(source) as live:
        assert live.execute("SELECT version_num FROM alembic_version").fetchall() == version
    live.close()
    assert not list(tmp_path.glob(".backup.db.partial-*"))


def run_backup(url: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "PORTAL_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [str(PORTAL), "backup", *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_writes_a_backup_and_replaces_one_only_with_force(
    source: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{source}"
    destination = tmp_path / "nightly.db"
    first = run_backup(url, str(destination), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("backed up ") and str(destination) in first.stdout
    destination.write_bytes(b"yesterday")

    refused = run_backup(url, str(destination), cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == f"portal backup: {destination} exists; add --force to replace it\n"
    assert destination.read_bytes() == b"yesterday"

    forced = run_backup(url, str(destination), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(destination) as backup:
        assert backup.execute("SELECT count(*) FROM probe").fetchone() == (PADDING_ROWS,)
    backup.close()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/backup.db", "portal backup: no directory {tmp}/missing\n"),
        (".", "portal backup: {tmp} is a directory; give a file name inside it\n"),
        ("portal.db", "portal backup: {tmp}/portal.db is the database itself\n"),
    ],
)
def test_a_bad_destination_is_a_one_line_error(
    source: Path, tmp_path: Path, where: str, message: str
) -> None:
    before = source.read_bytes()
    refused = run_backup(f"sqlite:///{source}", str(tmp_path / where), cwd=tmp_path)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == message.format(tmp=tmp_path)
    assert source.read_bytes() == before
    assert not (tmp_path / "missing").exists()


def test_postgresql_is_refused_with_the_pg_dump_command(tmp_path: Path) -> None:
    refused = run_backup("postgresql://portal@db.invalid/portal", "dump.db", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == (
        "portal backup: PostgreSQL is backed up with pg_dump, "
        'e.g. pg_dump --format=custom --file=portal.dump "$PORTAL_DATABASE_URL"\n'
    )
    assert not (tmp_path / "dump.db").exists()
