"""Online backup of a SQLite database: a consistent copy taken while the portal keeps writing.

The copy is made with SQLite's backup API (https://www.sqlite.org/backup.html) from inside
one read transaction. In WAL mode (which every portal connection sets) a reader never
blocks a writer, so the web and worker processes go on committing throughout; the read
transaction pins the snapshot the copy is of. Without it, SQLite restarts a stepped
backup whenever another connection commits, and under steady traffic it would never
finish. The copy goes in steps with a pause between them so that a large file does not
hog the disk beside the serving processes, and into a temporary file renamed into place
at the end, so DEST is either the old file or a whole backup, never half of one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from backend.db import is_sqlite

PAGES_PER_STEP = 128
PAUSE_BETWEEN_STEPS_SECONDS = 0.01
PG_DUMP_COMMAND = 'pg_dump --format=custom --file=portal.dump "$PORTAL_DATABASE_URL"'


class BackupRefused(Exception):
    """The database or the destination cannot be backed up as asked (the message says why)."""


@dataclass(frozen=True)
class BackupResult:
    destination: Path
    pages: int
    steps: int


def sqlite_path(url: str) -> Path:
    """The file of a sqlite:///path URL; PostgreSQL is refused with the command that backs it up."""
    if not is_sqlite(url):
        raise BackupRefused(f"PostgreSQL is backed up with pg_dump, e.g. {PG_DUMP_COMMAND}")
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path.startswith(":memory:"):
        raise BackupRefused(f"not a database file: {url}")
    return Path(path)


def check_destination(source: Path, destination: Path, force: bool) -> None:
    if not source.is_file():
        raise BackupRefused(f"no database at {source}")
    if destination.is_dir():
        raise BackupRefused(f"{destination} is a directory; give a file name inside it")
    if not destination.parent.is_dir():
        raise BackupRefused(f"no directory {destination.parent}")
    if destination.exists() and destination.resolve() == source.resolve():
        raise BackupRefused(f"{destination} is the database itself")
    if destination.exists() and not force:
        raise BackupRefused(f"{destination} exists; add --force to replace it")


def backup_sqlite(
    url: str,
    destination: Path,
    *,
    force: bool = False,
    pages_per_step: int = PAGES_PER_STEP,
    pause_seconds: float = PAUSE_BETWEEN_STEPS_SECONDS,
) -> BackupResult:
    source_path = sqlite_path(url)
    check_destination(source_path, destination, force)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    steps = 0

    def pause(status: int, remaining: int, total: int) -> None:
        nonlocal steps
        steps += 1
        if remaining:
            time.sleep(pause_seconds)

    source = sqlite3.connect(source_path, isolation_level=None)
    target = sqlite3.connect(partial)
    try:
        source.execute("PRAGMA journal_mode=WAL")  # what the portal sets; readers never block
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the snapshot
        source.backup(target, pages=pages_per_step, progress=pause)
        source.execute("COMMIT")
        pages = int(target.execute("PRAGMA page_count").fetchone()[0])
        target.close()
        os.replace(partial, destination)
    finally:
        target.close()
        source.close()
        partial.unlink(missing_ok=True)
    return BackupResult(destination, pages, steps)
