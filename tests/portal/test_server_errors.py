"""A bug answers our own 500 page with every security header."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from portal.app import create_app

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
FRIENDLY_500 = "系统出了点问题，请稍后再试。"


def app_with(settings, database, statement_or_error):
    """The portal with one extra route that fails the way a bug in a handler would."""

    async def failing(request: Request) -> Response:
        if isinstance(statement_or_error, Exception):
            raise statement_or_error
        with request.app.state.database.write() as session:
            session.execute(text(statement_or_error))
        return Response("unreachable")

    app = create_app(settings, database)
    app.router.routes.append(Route("/test/fail", failing, methods=["GET"]))
    return app


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert value in response.headers.get(name, ""), name


def test_a_500_carries_the_security_headers_and_shows_the_friendly_page(settings, database):
    app = app_with(settings, database, RuntimeError("a bug"))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test/fail")
    assert response.status_code == 500
    assert_security_headers(response)
    assert FRIENDLY_500 in response.text
    assert "RuntimeError" not in response.text


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO lookup_attempts (order_key) VALUES (NULL)",  # IntegrityError
        "SELECT no_such_column FROM orders",  # OperationalError on SQLite
    ],
)
def test_a_genuine_database_error_is_a_500_with_its_traceback_logged(
    settings, database, statement, caplog
):
    app = app_with(settings, database, statement)
    with (
        caplog.at_level(logging.INFO, logger="portal"),
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        response = client.get("/test/fail")
    assert response.status_code == 500
    assert_security_headers(response)
    errors = [r for r in caplog.records if r.name == "portal.errors" and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "database unavailable" not in caplog.text
