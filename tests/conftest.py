"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when its URL is set)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from backend.db import Database
from backend.migrate import upgrade
from backend.schema import metadata
from portal.app import create_app
from portal.settings import Settings

POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
KUAIDI100_SALT = "test-salt-0123456789abcdef012345"
SF_PUSH_TOKEN = "sf-path-token-0123456789"
SHOPIFY_SECRET = "shopify-app-secret-0123456789"
CHANNEL_SECRET = "channel-secret-0123456789"
TEST_KEYS = ("old-test-key-0123456789abcdef", "test-key-0123456789abcdef0123")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; every test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    assert POSTGRES_URL
    database = Database(POSTGRES_URL)
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()
    upgrade(POSTGRES_URL)
    return POSTGRES_URL


def _truncate(database: Database) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("postgres_migrated"))
        _truncate(db)
    yield db
    db.dispose()


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    return Settings(
        photo_dir=str(tmp_path / "photos"),
        database_url=database.url,
        secret_keys=TEST_KEYS,
        base_url="http://testserver",
        tracking_refresh_seconds=1,
        embedded_worker=False,
        kuaidi100_customer="TESTCUSTOMER",
        kuaidi100_key="TESTKEY",
        kuaidi100_salt=KUAIDI100_SALT,
        sf_push_token=SF_PUSH_TOKEN,
        sms_templates="shipped=SMS_SHIPPED,out_for_delivery=SMS_OUT,delivered=SMS_DELIVERED,"
        "available_for_pickup=SMS_PICKUP,failed_attempt=SMS_FAILED,exception=SMS_EXCEPTION,"
        "verification_code=SMS_CODE,address_changed=SMS_ADDRESS,"
        "address_request_approved=SMS_APPROVED,address_request_rejected=SMS_REJECTED",
        quiet_hours="00:00-00:00",
        # Second factor is tested on its own (tests/portal/test_second_factor.py); here the
        # admin, finance and supervisor of other tests log in with a password alone.
        staff_second_factor_required=False,
        shopify_webhook_secret=SHOPIFY_SECRET,
        channel_secrets=f"taobao={CHANNEL_SECRET},jd={CHANNEL_SECRET},pinduoduo={CHANNEL_SECRET}",
    )


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database)) as test_client:
        yield test_client
