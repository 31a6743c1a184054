"""Browser fixtures: the portal live on a free port, and a phone-sized Chromium per test.

The server runs in a thread of the test process against the test's own `database`, so a
test can change things (a carrier event, a revoked link) while the page is open, through
the same services production uses.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from backend.db import Database
from portal.app import create_app
from portal.settings import Settings
from tests.browser.live import (
    bind_free_port,
    launch_chromium,
    phone_context_options,
    serving,
    url_of,
)
from tests.conftest import TEST_KEYS


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    # Bound before the settings are made, so base_url names the port the server will use
    # and nothing else can take it in between.
    sock = bind_free_port()
    yield sock
    sock.close()


@pytest.fixture
def settings(database: Database, listening_socket: socket.socket) -> Settings:
    return Settings(
        database_url=database.url,
        secret_keys=TEST_KEYS,
        base_url=url_of(listening_socket),
        tracking_refresh_seconds=1,
        # No worker: the sandbox carrier must not move parcels behind a test's back.
        embedded_worker=False,
        # No quiet hours: a message test must not wait whenever it is night in Shanghai.
        quiet_hours="00:00-00:00",
        # Second factor is tested on its own (tests/portal/test_second_factor.py); here the
        # admin, finance and supervisor of other tests log in with a password alone.
        staff_second_factor_required=False,
    )


@pytest.fixture
def live_server(
    settings: Settings, database: Database, listening_socket: socket.socket
) -> Iterator[str]:
    """The portal's base URL, answering until the test is over."""
    with serving(create_app(settings, database), listening_socket):
        yield settings.base_url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, playwright: Playwright, live_server: str) -> Iterator[BrowserContext]:
    # Torn down before live_server, so the server is not left waiting on open connections.
    context = browser.new_context(base_url=live_server, **phone_context_options(playwright))
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
