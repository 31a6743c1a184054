"""A bug answers our own 500 page with every security header; an outage answers 503."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from backend.db import Database
from portal.app import create_app
from tests.portal.helpers import csrf_token

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
FRIENDLY_500 = "系统出了点问题，请稍后再试。"
FRIENDLY_503 = "服务暂时不可用，请稍后再试。"


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


def test_a_database_that_cannot_be_opened_answers_503_pages_and_logs_one_warning(
    settings, tmp_path, caplog
):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    with (
        caplog.at_level(logging.INFO, logger="portal"),
        TestClient(create_app(settings, unreachable)) as client,
    ):
        token = csrf_token(client)
        answers = [
            client.post(
                "/lookup", data={"order_no": "T1", "phone_last4": "1234", "csrf_token": token}
            )
            for _ in range(5)
        ]
        health = client.get("/healthz")
    unreachable.dispose()
    for response in answers:
        assert response.status_code == 503
        assert FRIENDLY_503 in response.text
        assert int(response.headers["Retry-After"]) > 0
        assert_security_headers(response)
    assert health.status_code == 503
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "database unavailable" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_english_visitors_get_the_503_page_in_english(settings, tmp_path):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    with TestClient(create_app(settings, unreachable)) as client:
        client.cookies.set("lang", "en")
        token = csrf_token(client)
        response = client.post(
            "/lookup", data={"order_no": "T1", "phone_last4": "1234", "csrf_token": token}
        )
    unreachable.dispose()
    assert response.status_code == 503
    assert "The service is briefly unavailable" in response.text
