"""The portal served for real on a free loopback port, for tests that cross HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from backend.db import Database
from portal.app import create_app
from portal.settings import Settings
from tests.browser.live import bind_free_port, serving, url_of


@contextmanager
def live_portal(database: Database, settings: Settings) -> Iterator[tuple[str, Settings]]:
    """Yields (base URL, settings whose base_url is that URL)."""
    sock = bind_free_port()
    try:
        live_settings = replace(settings, base_url=url_of(sock))
        with serving(create_app(live_settings, database), sock):
            yield live_settings.base_url, live_settings
    finally:
        sock.close()
