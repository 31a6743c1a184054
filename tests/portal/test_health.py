"""Health check: ok with a reachable database, 503 without."""

from starlette.testclient import TestClient

from backend.db import Database
from backend.migrate import head_revision, upgrade
from portal.app import create_app


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(settings, tmp_path):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    with TestClient(create_app(settings, unreachable)) as client:
        response = client.get("/healthz")
    unreachable.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_an_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "没有找到该页面或订单" in response.text


def test_livez_answers_without_asking_the_database(settings, tmp_path):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    with TestClient(create_app(settings, unreachable)) as client:
        response = client.get("/livez")
    unreachable.dispose()
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_is_ready_with_the_database_at_the_codes_schema(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "schema": head_revision()}


def test_readyz_is_not_ready_without_the_database(settings, tmp_path):
    unreachable = Database(f"sqlite:///{tmp_path}/missing/dir/portal.db")
    with TestClient(create_app(settings, unreachable)) as client:
        response = client.get("/readyz")
    unreachable.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "database": "unreachable"}
    assert response.headers["retry-after"]


def test_readyz_is_not_ready_while_migrations_are_missing(settings, tmp_path):
    behind = Database(f"sqlite:///{tmp_path}/behind.db")
    upgrade(behind.url, "0040")
    with TestClient(create_app(settings, behind)) as client:
        response = client.get("/readyz")
    behind.dispose()
    assert response.status_code == 503
    assert response.json()["schema"] == f"0040 (code: {head_revision()})"
