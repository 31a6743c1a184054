"""The 公众号 server push, without HTTP: its signature, its XML, and the consents it records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.notifications.consents import get_consent
from backend.notifications.models import WeChatConsent
from backend.notifications.wechat_push import (
    PushMalformed,
    PushSignatureInvalid,
    PushTooOld,
    TemplateDecision,
    apply_push,
    build_push_signature,
    parse_push,
    verify_push,
)
from backend.orders.access import issue_short_link, resolve_short_link
from backend.orders.wechat_identity import link_wechat_identity
from backend.orders.wechat_oauth import WeChatIdentity
from emulators.wechat_push import build_subscribe_event
from tests.factories import make_order

from .conftest import APPID, OPENID

TOKEN = "push-token-for-tests"
NOW = 1_700_000_000
# WeChat's own example (docs/protocols.md, "WeChat server push / Events"), values shortened.
POPUP_XML = b"""<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
<FromUserName><![CDATA[otFpruAK8D-E6EfStSYonYSBZ8_4]]></FromUserName>
<CreateTime>1610969440</CreateTime><MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent>
<List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>
<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List>
<List><TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId>
<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List>
</SubscribeMsgPopupEvent></xml>"""


def test_the_signature_is_sha1_of_the_sorted_three_values():
    # Computed by hand in our research notes for these made-up values.
    assert build_push_signature("testtoken", "1700000000", "123456") == (
        "f23603a2121b10f1cc3648528cd8328baeaf225d"
    )


def test_a_genuine_recent_push_passes():
    signature = build_push_signature(TOKEN, str(NOW), "42")
    verify_push(TOKEN, str(NOW), "42", signature, now=NOW + 10)


@pytest.mark.parametrize(
    ("token", "timestamp", "signature"),
    [
        ("another-token", str(NOW), build_push_signature(TOKEN, str(NOW), "42")),
        (TOKEN, str(NOW + 1), build_push_signature(TOKEN, str(NOW), "42")),  # changed after
        (TOKEN, str(NOW), "0" * 40),
        (TOKEN, str(NOW), ""),
        ("", str(NOW), build_push_signature("", str(NOW), "42")),  # no token set: nobody passes
    ],
)
def test_a_forged_signature_is_refused(token, timestamp, signature):
    with pytest.raises(PushSignatureInvalid):
        verify_push(token, timestamp, "42", signature, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_signed_push_from_outside_five_minutes_is_refused(age):
    timestamp = str(NOW - age)
    with pytest.raises(PushTooOld):
        verify_push(TOKEN, timestamp, "42", build_push_signature(TOKEN, timestamp, "42"), now=NOW)


def test_wechat_s_example_popup_event_is_read():
    message = parse_push(POPUP_XML)
    assert message.openid == "otFpruAK8D-E6EfStSYonYSBZ8_4"
    assert (message.msg_type, message.event) == ("event", "subscribe_msg_popup_event")
    assert message.create_time == 1610969440 and message.to_user == "gh_123456789abc"
    assert message.decisions == (
        TemplateDecision("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "accept"),
        TemplateDecision("9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", "reject"),
    )


@pytest.mark.parametrize("wrapper", ["SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent"])
def test_a_change_event_is_read_in_either_wrapper(wrapper):
    push = build_subscribe_event(
        TOKEN, OPENID, {"T1": "reject"}, event="subscribe_msg_change_event", wrapper=wrapper
    )
    message = parse_push(push.body)
    assert message.event == "subscribe_msg_change_event"
    assert message.decisions == (TemplateDecision("T1", "reject"),)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<xml><FromUserName>&lol2;</FromUserName></xml>",
        b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml></xml>',
        b"<xml><unclosed></xml>",
        b"<notxml></notxml>",
        b"",
    ],
    ids=["entities", "external", "broken", "other-root", "empty"],
)
def test_xml_that_wechat_never_sends_is_refused(body):
    with pytest.raises(PushMalformed):
        parse_push(body)


def linked_customer(database, openid: str = OPENID) -> int:
    order = make_order(database)
    code = issue_short_link(database, order.id, Actor(ActorKind.SYSTEM, "test"), timedelta(days=1))
    customer = resolve_short_link(database, code).session
    actor = Actor(ActorKind.CUSTOMER, f"customer:{customer.customer_id}", channel="wechat-oauth")
    link_wechat_identity(database, customer, WeChatIdentity(APPID, openid, None), actor)
    return customer.customer_id


def consent_rows(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(WeChatConsent)) or 0


def test_a_popup_records_accepts_and_refusals_for_the_linked_customer(database):
    customer_id = linked_customer(database)
    push = build_subscribe_event(TOKEN, OPENID, {"T1": "accept", "T2": "reject", "T3": "ban"})
    assert apply_push(database, APPID, parse_push(push.body)) == 2
    accepted = get_consent(database, customer_id, APPID, "T1")
    assert accepted is not None and accepted.remaining == 1 and accepted.can_send
    refused = get_consent(database, customer_id, APPID, "T2")
    assert refused is not None and refused.refused_at is not None
    assert get_consent(database, customer_id, APPID, "T3") is None
    with database.read() as session:
        actors = session.scalars(
            select(AuditEvent.actor_id).where(AuditEvent.subject == "wechat_consent")
        ).all()
    assert actors and set(actors) == {"wechat_push"}


def test_a_change_event_s_reject_stops_sends_and_its_accept_adds_none(database):
    customer_id = linked_customer(database)
    apply_push(
        database, APPID, parse_push(build_subscribe_event(TOKEN, OPENID, {"T1": "accept"}).body)
    )
    change = build_subscribe_event(
        TOKEN, OPENID, {"T1": "reject", "T2": "accept"}, event="subscribe_msg_change_event"
    )
    assert apply_push(database, APPID, parse_push(change.body)) == 1
    view = get_consent(database, customer_id, APPID, "T1")
    assert view is not None and not view.can_send
    assert get_consent(database, customer_id, APPID, "T2") is None


@pytest.mark.parametrize(
    "event", ["subscribe_msg_sent_event", "subscribe", "CLICK"], ids=lambda e: e
)
def test_other_events_keep_nothing(database, event):
    linked_customer(database)
    push = build_subscribe_event(TOKEN, OPENID, {"T1": "accept"}, event=event)
    assert apply_push(database, APPID, parse_push(push.body)) == 0
    assert consent_rows(database) == 0


def test_an_openid_of_nobody_we_know_keeps_nothing(database):
    linked_customer(database)
    push = build_subscribe_event(TOKEN, "oSomebodyElse0000000000000", {"T1": "accept"})
    assert apply_push(database, APPID, parse_push(push.body)) == 0
    assert (
        apply_push(
            database,
            "wxanotherapp0000",
            parse_push(build_subscribe_event(TOKEN, OPENID, {"T1": "accept"}).body),
        )
        == 0
    )
    assert consent_rows(database) == 0
