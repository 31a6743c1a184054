"""Health check: ok with a reachable database, 503 without."""

from starlette.testclient import TestClient

from backend.db import Database
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
