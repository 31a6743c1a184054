"""Databases for process tests: a migrated SQLite file, or the test PostgreSQL behind a proxy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from backend.db import Database
from tests.conftest import POSTGRES_URL, _truncate
from tests.process.tcp_proxy import TcpProxy


@pytest.fixture
def sqlite_file(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    """(path, Database) of a freshly migrated file the test and a served portal share."""
    path = tmp_path / "portal.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    # Migrations leave the file in rollback-journal mode; the portal's first connection
    # turns on WAL (kept in the file), as it has on any database that has served.
    with database.engine.connect():
        pass
    yield path, database
    database.dispose()


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL is not set")
    database = Database(request.getfixturevalue("postgres_migrated"))
    _truncate(database)
    yield database
    database.dispose()


@pytest.fixture
def postgres_proxy() -> Iterator[tuple[TcpProxy, str]]:
    """(proxy, URL of the test database through it)."""
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL is not set")
    parts = urlsplit(POSTGRES_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.listen()
    credentials, _, _address = parts.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    url = urlunsplit(parts._replace(netloc=netloc))
    yield proxy, url
    proxy.refuse()
