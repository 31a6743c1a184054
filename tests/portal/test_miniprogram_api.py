"""The mini-program JSON API: wx.login code, bearer, verified phone, orders, web-view link.

The portal runs in a TestClient; WeChat (code2Session, the stable token, the phone number)
is the loopback emulator on a free port, reached by the portal over real HTTP. What the
calls change is read back from the database.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import itsdangerous.timed
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.notifications.consents import get_consent
from backend.notifications.models import WeChatConsent
from backend.orders.access import revoke_links
from backend.orders.models import CustomerWechatId, Order
from emulators.notifications import DEMO_MINIPROGRAM_APPS, Fault, NotificationEmulator
from emulators.serving import serve_in_thread
from portal.app import create_app
from portal.miniprogram import BearerSigner, MiniProgramUser
from portal.sessions import CUSTOMER_COOKIE
from tests.conftest import TEST_KEYS
from tests.factories import SYSTEM, make_order

APPID, SECRET = next(iter(DEMO_MINIPROGRAM_APPS.items()))
OPENID, UNIONID = "oMiniUser000000000000000001", "oUnion0000000000000000000001"
PHONE = "13800138000"
SHIPPED, OUT = "TmplShipped0000000001", "TmplOutForDelivery001"
WEB_VIEW = {
    "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI "
    f"Language/zh_CN miniProgram/{APPID}"
}


@pytest.fixture
def wechat() -> Iterator[tuple[NotificationEmulator, str]]:
    emulator = NotificationEmulator()
    with serve_in_thread(emulator.app) as url:
        yield emulator, url


@pytest.fixture
def portal(settings, database, wechat) -> Iterator[TestClient]:
    _, url = wechat
    configured = dataclasses.replace(
        settings,
        wechat_api_base_url=url,
        wechat_miniprogram_appid=APPID,
        wechat_miniprogram_secret=SECRET,
        wechat_miniprogram_templates=f"shipped={SHIPPED},out_for_delivery={OUT}",
    )
    with TestClient(create_app(configured, database)) as client:
        yield client


def login(portal: TestClient, emulator: NotificationEmulator, openid: str = OPENID) -> dict:
    code = emulator.miniprogram.login_code(APPID, openid, UNIONID)
    response = portal.post("/api/miniprogram/login", json={"code": code})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def verify_phone(portal, emulator, token: str, phone: str = PHONE, openid: str = OPENID):
    code = emulator.miniprogram.phone_code(APPID, openid, phone)
    return portal.post("/api/miniprogram/phone", json={"code": code}, headers=bearer(token))


def signed_in(portal, emulator) -> str:
    response = verify_phone(portal, emulator, login(portal, emulator)["token"])
    assert response.status_code == 200, response.text
    return response.json()["token"]


def links(database) -> list[tuple[int, str, str, str | None]]:
    with database.read() as session:
        rows = session.execute(
            select(
                CustomerWechatId.customer_id,
                CustomerWechatId.appid,
                CustomerWechatId.openid,
                CustomerWechatId.unionid,
            )
        ).all()
    return [tuple(row) for row in rows]


def count(database, model) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_code_session_orders_and_the_signed_link_open_the_tracking_page(portal, database, wechat):
    emulator, _ = wechat
    older = make_order(database, phone=PHONE)
    newer = make_order(database, phone=PHONE)
    make_order(database, phone="13900139000")  # someone else's

    session = login(portal, emulator)
    assert session["customer"] is False
    assert session["templates"] == {"shipped": SHIPPED, "out_for_delivery": OUT}
    assert "session_key" not in str(session)
    # No customer yet: the order list needs the verified phone first.
    assert portal.get("/api/miniprogram/orders", headers=bearer(session["token"])).json() == {
        "error": "phone_needed"
    }

    phoned = verify_phone(portal, emulator, session["token"])
    assert phoned.status_code == 200 and phoned.json()["customer"] is True
    customer_id = newer.customer_id
    assert links(database) == [(customer_id, APPID, OPENID, UNIONID)]
    # The phone code was asked for this user only: WeChat checks it against the openid.
    assert emulator.miniprogram.phone_requests[-1]["openid"] == OPENID

    listed = portal.get("/api/miniprogram/orders", headers=bearer(phoned.json()["token"]))
    assert listed.status_code == 200
    orders = listed.json()["orders"]
    assert [o["public_no"] for o in orders] == [newer.public_no, older.public_no]
    assert orders[0]["status"] == "paid" and orders[0]["status_text"] == "已付款"
    assert orders[0]["link"].startswith("http://testserver/o/")

    # The web-view opens the link: a customer cookie, then the tracking page.
    web_view = TestClient(portal.app, headers=WEB_VIEW)
    opened = web_view.get(orders[1]["link"], follow_redirects=False)
    assert opened.status_code == 303 and CUSTOMER_COOKIE in opened.cookies
    page = web_view.get(opened.headers["location"])
    assert page.status_code == 200 and older.public_no in page.text
    assert "res.wx.qq.com" in page.headers["content-security-policy"]  # the web-view's JS-SDK


def test_a_returning_user_is_known_from_the_linked_openid_without_the_phone_again(
    portal, database, wechat
):
    emulator, _ = wechat
    order = make_order(database, phone=PHONE)
    signed_in(portal, emulator)
    again = login(portal, emulator)
    assert again["customer"] is True
    listed = portal.get("/api/miniprogram/orders", headers=bearer(again["token"]))
    assert [o["public_no"] for o in listed.json()["orders"]] == [order.public_no]
    with database.read() as session:
        events = session.execute(
            select(func.count()).where(AuditEvent.action == "customer.wechat_linked")
        ).scalar_one()
    assert events == 1


def test_consents_reported_from_the_popup_are_stored_for_the_mini_program(portal, database, wechat):
    emulator, _ = wechat
    order = make_order(database, phone=PHONE)
    token = signed_in(portal, emulator)
    result = {SHIPPED: "accept", OUT: "reject", "errMsg": "requestSubscribeMessage:ok"}
    response = portal.post("/api/miniprogram/consents", json=result, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": [SHIPPED], "refused": [OUT], "ignored": []}

    accepted = get_consent(database, order.customer_id, APPID, SHIPPED)
    refused = get_consent(database, order.customer_id, APPID, OUT)
    assert accepted is not None and accepted.remaining == 1 and accepted.can_send
    assert refused is not None and refused.refused_at is not None and not refused.can_send

    # Another tap adds another one-time send; ban and filter change nothing.
    again = {SHIPPED: "accept", OUT: "filter"}
    portal.post("/api/miniprogram/consents", json=again, headers=bearer(token))
    assert get_consent(database, order.customer_id, APPID, SHIPPED).remaining == 2
    assert get_consent(database, order.customer_id, APPID, OUT).refused_at is not None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "result_invalid"),
        ({SHIPPED: "yes"}, "result_invalid"),
        ({SHIPPED: 1}, "result_invalid"),
        ({"NotOurTemplate000001": "accept"}, "template_unknown"),
        ({f"T{n}": "accept" for n in range(6)}, "result_invalid"),
        (["accept"], "body_not_object"),
    ],
)
def test_a_malformed_consent_report_is_refused_and_stores_nothing(
    portal, database, wechat, body, error
):
    emulator, _ = wechat
    make_order(database, phone=PHONE)
    token = signed_in(portal, emulator)
    response = portal.post("/api/miniprogram/consents", json=body, headers=bearer(token))
    assert response.status_code in (400, 422)
    assert response.json() == {"error": error}
    assert count(database, WeChatConsent) == 0


def test_forged_expired_and_missing_bearer_tokens_get_401(portal, database, wechat, monkeypatch):
    emulator, _ = wechat
    make_order(database, phone=PHONE)
    token = signed_in(portal, emulator)
    signer = BearerSigner(TEST_KEYS, timedelta(hours=2))
    user = signer.loads(token)
    assert isinstance(user, MiniProgramUser) and user.grant is not None
    forged = BearerSigner(("someone-elses-key-0123456789",), timedelta(hours=2)).dumps(user)
    with monkeypatch.context() as past:
        # Signed three hours ago with our own key: past the two hours it lives.
        now = time.time()
        past.setattr(itsdangerous.timed.time, "time", lambda: now - 3 * 3600)
        expired = signer.dumps(user)
    for headers in (
        {},
        {"authorization": token},  # no scheme
        bearer(token[:-2] + ("xx" if not token.endswith("xx") else "yy")),
        bearer(forged),
        bearer(expired),
    ):
        response = portal.get("/api/miniprogram/orders", headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == {"error": "bearer_invalid"}
        assert response.headers["www-authenticate"].startswith("Bearer")
        consent = portal.post(
            "/api/miniprogram/consents", json={SHIPPED: "accept"}, headers=headers
        )
        assert consent.status_code == 401
    assert count(database, WeChatConsent) == 0


def test_revoking_the_orders_links_ends_the_mini_program_session(portal, database, wechat):
    emulator, _ = wechat
    order = make_order(database, phone=PHONE)
    token = signed_in(portal, emulator)
    revoke_links(database, order.id, SYSTEM)
    response = portal.get("/api/miniprogram/orders", headers=bearer(token))
    assert response.status_code == 401 and response.json() == {"error": "session_ended"}
    consent = portal.post(
        "/api/miniprogram/consents", json={SHIPPED: "accept"}, headers=bearer(token)
    )
    assert consent.status_code == 401
    assert count(database, WeChatConsent) == 0


@pytest.mark.parametrize(
    ("errcode", "status", "error"),
    [
        (40029, 400, "code_invalid"),
        (45011, 429, "too_many_requests"),
        (40226, 403, "login_blocked"),
        (-1, 503, "wechat_unavailable"),
    ],
)
def test_wechat_refusing_the_login_code_is_a_precise_error(
    portal, database, wechat, errcode, status, error
):
    emulator, _ = wechat
    emulator.miniprogram.login_errcode = errcode
    code = emulator.miniprogram.login_code(APPID, OPENID)
    response = portal.post("/api/miniprogram/login", json={"code": code})
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_a_login_code_works_once(portal, database, wechat):
    emulator, _ = wechat
    code = emulator.miniprogram.login_code(APPID, OPENID)
    assert portal.post("/api/miniprogram/login", json={"code": code}).status_code == 200
    replay = portal.post("/api/miniprogram/login", json={"code": code})
    assert (replay.status_code, replay.json()) == (400, {"error": "code_invalid"})


@pytest.mark.parametrize(
    ("content", "status", "error"),
    [
        (b"not json", 400, "body_not_json"),
        (b"[1]", 400, "body_not_object"),
        (b"{}", 422, "code_missing"),
        (b'{"code": 7}', 422, "code_missing"),
        (b'{"code": "' + b"x" * 5000 + b'"}', 413, "body_too_large"),
    ],
)
def test_bad_login_bodies_are_4xx_json_and_never_reach_wechat(
    portal, database, wechat, content, status, error
):
    emulator, _ = wechat
    response = portal.post(
        "/api/miniprogram/login", content=content, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert emulator.miniprogram.logins == 0


def test_a_phone_without_orders_or_a_phone_code_of_another_user_links_nothing(
    portal, database, wechat
):
    emulator, _ = wechat
    make_order(database, phone=PHONE)
    token = login(portal, emulator)["token"]
    nobody = verify_phone(portal, emulator, token, phone="13700137000")
    assert (nobody.status_code, nobody.json()) == (404, {"error": "no_orders_for_phone"})
    foreign = verify_phone(portal, emulator, token, openid="oSomeoneElse00000000000001")
    assert (foreign.status_code, foreign.json()) == (400, {"error": "code_invalid"})
    assert links(database) == []


def test_the_phone_call_uses_a_fresh_token_after_wechat_dropped_the_stored_one(
    portal, database, wechat
):
    emulator, _ = wechat
    make_order(database, phone=PHONE)
    token = login(portal, emulator)["token"]
    assert verify_phone(portal, emulator, token).status_code == 200
    emulator.expire_tokens()  # the stored token is now refused with 40001
    assert verify_phone(portal, emulator, token).status_code == 200
    assert emulator.tokens_issued == 2


def test_without_a_mini_program_configured_the_api_says_so(client, database):
    response = client.post("/api/miniprogram/login", json={"code": "x"})
    assert (response.status_code, response.json()) == (404, {"error": "miniprogram_not_configured"})


def test_the_order_link_is_the_one_the_h5_pages_accept(portal, database, wechat):
    emulator, _ = wechat
    order = make_order(database, phone=PHONE)
    token = signed_in(portal, emulator)
    link = portal.get("/api/miniprogram/orders", headers=bearer(token)).json()["orders"][0]["link"]
    with database.read() as session:
        version = session.get(Order, order.id).link_version
    signed = link.removeprefix("http://testserver/o/")
    assert portal.app.state.link_signer.read(signed) == (order.id, version)


def test_a_verified_number_abroad_finds_no_mainland_customer(portal, database, wechat):
    emulator, _ = wechat
    make_order(database, phone=PHONE)
    token = login(portal, emulator)["token"]
    code = emulator.miniprogram.phone_code(APPID, OPENID, PHONE, country_code="44")
    response = portal.post("/api/miniprogram/phone", json={"code": code}, headers=bearer(token))
    assert (response.status_code, response.json()) == (422, {"error": "phone_not_mainland_mobile"})
    assert links(database) == []


def test_wechat_away_during_the_phone_call_is_a_503_and_links_nothing(portal, database, wechat):
    emulator, _ = wechat
    make_order(database, phone=PHONE)
    token = login(portal, emulator)["token"]
    emulator.set_fault("wechat", Fault(status=503))  # its stable_token answers 503
    response = verify_phone(portal, emulator, token)
    assert (response.status_code, response.json()) == (503, {"error": "wechat_unavailable"})
    assert links(database) == []


def test_an_unreachable_wechat_at_login_is_a_503(settings, database):
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        configured = dataclasses.replace(
            settings,
            wechat_api_base_url=f"http://127.0.0.1:{bound.getsockname()[1]}",
            wechat_miniprogram_appid=APPID,
            wechat_miniprogram_secret=SECRET,
        )
        with TestClient(create_app(configured, database)) as client:
            response = client.post("/api/miniprogram/login", json={"code": "0a1b2c"})
    assert (response.status_code, response.json()) == (503, {"error": "wechat_unavailable"})


def test_the_emulator_hands_out_codes_over_http_for_the_sample(portal, database, wechat):
    _, url = wechat
    make_order(database, phone=PHONE)
    minted = httpx.post(
        f"{url}/_emulator/miniprogram/codes",
        json={"appid": APPID, "openid": OPENID, "phone": PHONE},
        timeout=5,
    ).json()
    token = portal.post("/api/miniprogram/login", json={"code": minted["login_code"]})
    phoned = portal.post(
        "/api/miniprogram/phone",
        json={"code": minted["phone_code"]},
        headers=bearer(token.json()["token"]),
    )
    assert phoned.status_code == 200 and phoned.json()["customer"] is True


def test_the_lookup_form_grants_this_session_without_linking_the_openid(portal, database, wechat):
    emulator, _ = wechat
    order = make_order(database, phone=PHONE)
    token = login(portal, emulator)["token"]
    wrong = {"order_no": order.public_no, "phone_last4": "0000"}
    missed = portal.post("/api/miniprogram/lookup", json=wrong, headers=bearer(token))
    assert (missed.status_code, missed.json()) == (404, {"error": "no_order_matches"})
    right = {"order_no": order.public_no, "phone_last4": PHONE[-4:]}
    found = portal.post("/api/miniprogram/lookup", json=right, headers=bearer(token))
    assert found.status_code == 200 and found.json()["customer"] is True
    listed = portal.get("/api/miniprogram/orders", headers=bearer(found.json()["token"]))
    assert [o["public_no"] for o in listed.json()["orders"]] == [order.public_no]
    assert links(database) == []
    assert login(portal, emulator)["customer"] is False  # four digits link nothing for later


@pytest.mark.parametrize(
    "body", [{}, {"order_no": "T000001"}, {"order_no": 1, "phone_last4": "8000"}]
)
def test_a_lookup_without_both_fields_is_422(portal, database, wechat, body):
    emulator, _ = wechat
    token = login(portal, emulator)["token"]
    response = portal.post("/api/miniprogram/lookup", json=body, headers=bearer(token))
    assert (response.status_code, response.json()) == (
        422,
        {"error": "order_no_and_phone_last4_needed"},
    )


def test_the_api_needs_no_csrf_token_while_the_pages_still_do(portal, database, wechat):
    emulator, _ = wechat
    fresh = TestClient(portal.app)  # no CSRF cookie, no token: as the mini-program calls
    code = emulator.miniprogram.login_code(APPID, OPENID)
    assert fresh.post("/api/miniprogram/login", json={"code": code}).status_code == 200
    form = {"order_no": "T000001", "phone_last4": "8000"}
    assert TestClient(portal.app).post("/lookup", data=form).status_code == 403
