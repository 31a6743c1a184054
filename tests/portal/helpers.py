"""Route-test helpers: sign a test client in as a customer or as staff."""

from __future__ import annotations

import re
from datetime import timedelta

from starlette.testclient import TestClient

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.access import issue_short_link
from backend.staff.accounts import add_staff
from backend.staff.models import Role

ADMIN = Actor(ActorKind.SYSTEM, "test")


def open_short_link(client: TestClient, database: Database, order_id: int):
    code = issue_short_link(database, order_id, ADMIN, timedelta(days=1))
    return client.get(f"/t/{code}", follow_redirects=False)


def csrf_token(client: TestClient, path: str = "/lookup") -> str:
    html = client.get(path).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def staff_login(client: TestClient, database: Database, role: Role, name: str | None = None):
    name = name or f"{role}-user"
    add_staff(database, name, role, "correct-horse-battery", ADMIN)
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login",
        data={"name": name, "password": "correct-horse-battery", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return name


def run_async(function, *args):
    """anyio.run in a thread of its own: a session's Playwright keeps an event loop in this one."""
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, function, *args).result()
