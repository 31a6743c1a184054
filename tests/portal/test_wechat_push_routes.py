"""WeChat's server push reaches /webhooks/wechat/official over HTTP: URL verification,
signed subscribe events that record consents, and forged or stale pushes that keep nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from backend.audit.models import AuditEvent
from backend.notifications.consents import get_consent
from backend.notifications.models import WeChatConsent
from backend.notifications.wechat_push import build_push_signature
from emulators.notifications import NotificationEmulator
from emulators.serving import serve_in_thread
from emulators.wechat_push import build_subscribe_event, build_verification
from portal.app import create_app
from tests.factories import make_order
from tests.portal.wechat_official import (
    APPID,
    PUSH_TOKEN,
    TEMPLATES,
    enter_linked,
    official_account,
)

PATH = "/webhooks/wechat/official"
SHIPPED = TEMPLATES["shipped"]


@pytest.fixture
def wechat() -> Iterator[tuple[NotificationEmulator, str]]:
    emulator = NotificationEmulator()
    with serve_in_thread(emulator.app) as url:
        yield emulator, url


@pytest.fixture
def portal(settings, database, wechat) -> Iterator[TestClient]:
    with TestClient(create_app(official_account(settings, wechat[1]), database)) as client:
        yield client


@pytest.fixture
def customer_id(portal, database) -> int:
    order = make_order(database)
    enter_linked(portal, database, order.id)
    return order.customer_id


def openid_of(wechat) -> str:
    return wechat[0].oauth.user.openid


def kept(database) -> tuple[int, int]:
    """(consent rows, consent audit events): what a refused push must leave at zero."""
    with database.read() as session:
        rows = session.scalar(select(func.count()).select_from(WeChatConsent))
        events = session.scalar(select(func.count()).where(AuditEvent.subject == "wechat_consent"))
    return rows or 0, events or 0


def post(portal: TestClient, push, **params: str):
    return portal.post(
        PATH, params=push.params | params, content=push.body, headers={"content-type": "text/xml"}
    )


def test_the_url_verification_echoes_echostr(portal):
    check = build_verification(PUSH_TOKEN)
    response = portal.get(PATH, params=check.params)
    assert response.status_code == 200
    assert response.text == check.params["echostr"]


def test_a_verification_with_a_forged_signature_is_refused(portal):
    check = build_verification("not-our-token")
    response = portal.get(PATH, params=check.params)
    assert response.status_code == 403
    assert check.params["echostr"] not in response.text


def test_an_accepting_popup_records_a_one_time_consent(portal, database, wechat, customer_id):
    push = build_subscribe_event(PUSH_TOKEN, openid_of(wechat), {SHIPPED: "accept"})
    response = post(portal, push)
    assert (response.status_code, response.text) == (200, "success")
    view = get_consent(database, customer_id, APPID, SHIPPED)
    assert view is not None and view.remaining == 1 and view.can_send
    assert kept(database) == (1, 1)


def test_a_rejecting_popup_and_a_later_switch_off_are_refusals(
    portal, database, wechat, customer_id
):
    delivered = TEMPLATES["delivered"]
    openid = openid_of(wechat)
    post(
        portal, build_subscribe_event(PUSH_TOKEN, openid, {SHIPPED: "accept", delivered: "reject"})
    )
    change = build_subscribe_event(
        PUSH_TOKEN, openid, {SHIPPED: "reject"}, event="subscribe_msg_change_event"
    )
    assert post(portal, change).text == "success"
    for template in (SHIPPED, delivered):
        view = get_consent(database, customer_id, APPID, template)
        assert view is not None and view.refused_at is not None and not view.can_send


def test_a_forged_server_push_signature_is_refused_and_keeps_nothing(
    portal, database, wechat, customer_id
):
    forged = build_subscribe_event("guessed-token", openid_of(wechat), {SHIPPED: "accept"})
    response = post(portal, forged)
    assert response.status_code == 403
    assert kept(database) == (0, 0)
    genuine = build_subscribe_event(PUSH_TOKEN, openid_of(wechat), {SHIPPED: "reject"})
    # A genuine signature over other query values, with the body swapped in, is forged too.
    response = post(portal, genuine, nonce=genuine.params["nonce"] + "1")
    assert response.status_code == 403
    assert kept(database) == (0, 0)


def test_a_replayed_push_with_an_old_timestamp_is_refused(portal, database, wechat, customer_id):
    old = build_subscribe_event(
        PUSH_TOKEN, openid_of(wechat), {SHIPPED: "accept"}, now=time.time() - 3600
    )
    assert post(portal, old).status_code == 403
    assert kept(database) == (0, 0)


def test_an_unknown_openid_or_event_is_acknowledged_and_nothing_is_kept(
    portal, database, wechat, customer_id
):
    stranger = build_subscribe_event(PUSH_TOKEN, "oStranger00000000000000000", {SHIPPED: "accept"})
    assert (post(portal, stranger).status_code, post(portal, stranger).text) == (200, "success")
    other = build_subscribe_event(
        PUSH_TOKEN, openid_of(wechat), {SHIPPED: "accept"}, event="subscribe_msg_sent_event"
    )
    assert post(portal, other).text == "success"
    assert kept(database) == (0, 0)


def test_xml_with_a_doctype_is_refused(portal, database, wechat, customer_id):
    push = build_subscribe_event(PUSH_TOKEN, openid_of(wechat), {SHIPPED: "accept"})
    body = b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + push.body
    response = portal.post(PATH, params=push.params, content=body)
    assert response.status_code == 400
    assert kept(database) == (0, 0)


def test_safe_mode_pushes_are_refused_until_they_are_supported(
    portal, database, wechat, customer_id
):
    push = build_subscribe_event(PUSH_TOKEN, openid_of(wechat), {SHIPPED: "accept"})
    response = post(portal, push, encrypt_type="aes", msg_signature="0" * 40)
    assert response.status_code == 400
    assert kept(database) == (0, 0)


def test_without_a_push_token_the_endpoint_does_not_exist(settings, database, wechat):
    app = create_app(official_account(settings, wechat[1], wechat_push_token=""), database)
    timestamp = str(int(time.time()))
    params = {"timestamp": timestamp, "nonce": "1", "echostr": "x"}
    params["signature"] = build_push_signature("", timestamp, "1")
    with TestClient(app) as client:
        assert client.get(PATH, params=params).status_code == 404
        assert client.post(PATH, params=params, content=b"<xml/>").status_code == 404


def test_a_body_far_larger_than_any_event_is_refused_unread(portal, database, wechat, customer_id):
    push = build_subscribe_event(PUSH_TOKEN, openid_of(wechat), {SHIPPED: "accept"})
    padded = push.body.replace(b"</xml>", b"<Pad>" + b"x" * 70_000 + b"</Pad></xml>")
    response = portal.post(PATH, params=push.params, content=padded)
    assert response.status_code == 413
    assert kept(database) == (0, 0)
