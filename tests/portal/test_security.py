"""Baseline security: CSRF on state changes, CSP and headers, autoescaping, no inline script."""

import base64
import re
from pathlib import Path

import pytest

from backend.personal_data import DEVELOPMENT_RING
from tests.factories import make_order
from tests.portal.helpers import csrf_token

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


def test_a_post_without_the_csrf_token_is_refused(client):
    client.get("/lookup")
    response = client.post("/lookup", data={"order_no": "X", "phone_last4": "1234"})
    assert response.status_code == 403


def test_a_post_with_a_wrong_csrf_token_is_refused(client):
    csrf_token(client)
    response = client.post(
        "/lookup", data={"order_no": "X", "phone_last4": "1234", "csrf_token": "wrong" * 8}
    )
    assert response.status_code == 403


def test_a_post_without_the_csrf_cookie_is_refused(client):
    token = csrf_token(client)
    client.cookies.clear()
    response = client.post("/lookup", data={"csrf_token": token, "order_no": "X"})
    assert response.status_code == 403


def test_htmx_sends_the_token_as_a_header(client):
    token = csrf_token(client)
    response = client.post(
        "/lookup",
        data={"order_no": "X", "phone_last4": "1234"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 422


def test_a_cross_origin_post_is_refused_even_with_the_token(client):
    token = csrf_token(client)
    response = client.post(
        "/lookup",
        data={"order_no": "X", "phone_last4": "1234", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_logout_is_a_protected_post(client):
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout").status_code == 403


def test_pages_carry_a_strict_content_security_policy_and_headers(client):
    response = client.get("/lookup")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert "portal_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_when_served_over_https(database, settings):
    from dataclasses import replace

    from starlette.testclient import TestClient

    from portal.app import create_app

    https = replace(settings, base_url="https://track.example.cn", **REAL_DATA_KEYS)
    with TestClient(create_app(https, database), base_url="https://testserver") as client:
        response = client.get("/lookup")
    assert "Secure" in response.headers["set-cookie"]
    assert "max-age" in response.headers["strict-transport-security"]


# Keys of one's own: the public development ones are refused over https.
REAL_DATA_KEYS = {
    "data_keys": ("dev:" + base64.b64encode(DEVELOPMENT_RING.keys["dev"]).decode(),),
    "blind_index_key": base64.b64encode(DEVELOPMENT_RING.index_key).decode(),
}


def test_https_without_data_keys_is_refused_at_start(database, settings):
    from dataclasses import replace

    from portal.app import create_app

    with pytest.raises(ValueError, match="PORTAL_DATA_KEYS"):
        create_app(replace(settings, base_url="https://track.example.cn"), database)


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(path):
    html = path.read_text()
    # WeChat's open-tag template is markup the JS-SDK draws, never run as script.
    inert = r'(?![^>]*\btype="text/wxtag-template")'
    assert not re.search(r"<script(?![^>]*\bsrc=)" + inert + r"[^>]*>", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert not re.search(r"\sstyle\s*=", html)
    assert "|safe" not in html and "autoescape false" not in html


def test_customer_supplied_text_is_escaped(client, database):
    make_order(database)
    response = client.post(
        "/lookup",
        data={
            "order_no": "<script>alert(1)</script>",
            "phone_last4": "1234",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text
