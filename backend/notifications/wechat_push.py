"""The 公众号's server push: URL verification, signed XML events, consents they carry."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from xml.etree import ElementTree

from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.notifications.consents import record_consent, record_refusal
from backend.notifications.models import ConsentKind
from backend.orders.models import CustomerWechatId

# WeChat sends the push within seconds and retries for a short while; a signed request
# older than this is a replay (docs/protocols.md, "WeChat server push / Signature").
MAX_AGE_SECONDS = 300
POPUP_EVENT = "subscribe_msg_popup_event"
CHANGE_EVENT = "subscribe_msg_change_event"
# The official example wraps a change event's list in SubscribeMsgPopupEvent; the name
# that would fit is SubscribeMsgChangeEvent. Both are read.
_LIST_WRAPPERS = ("SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent")
PUSH_ACTOR = Actor(ActorKind.SYSTEM, "wechat_push", channel="wechat-push")


class PushSignatureInvalid(Exception):
    """signature does not match sha1(sorted token, timestamp, nonce): not from WeChat."""


class PushTooOld(Exception):
    """The signed timestamp is outside the accepted window: a replay, or a clock far off."""


class PushMalformed(ValueError):
    """The body is not the XML WeChat sends (or carries a DOCTYPE, which it never does)."""


@dataclass(frozen=True)
class TemplateDecision:
    template_id: str
    status: str  # accept | reject (popup also: others we do not act on)


@dataclass(frozen=True)
class PushMessage:
    to_user: str  # the 公众号's original id, gh_...
    openid: str
    create_time: int
    msg_type: str
    event: str
    decisions: tuple[TemplateDecision, ...]


def build_push_signature(token: str, timestamp: str, nonce: str) -> str:
    """sha1 of the three values sorted and joined (docs/protocols.md, "WeChat server push /
    Signature")."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()


def verify_push(token: str, timestamp: str, nonce: str, signature: str, *, now: float) -> None:
    """Raises PushSignatureInvalid or PushTooOld; returns for a genuine, recent push."""
    expected = build_push_signature(token, timestamp, nonce)
    if not token or not hmac.compare_digest(expected, signature.lower()):
        raise PushSignatureInvalid
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise PushTooOld(timestamp)


def _text(node: ElementTree.Element, name: str) -> str:
    found = node.find(name)
    return "" if found is None or found.text is None else found.text.strip()


def parse_push(body: bytes) -> PushMessage:
    """The event XML as a PushMessage. A DOCTYPE is refused before parsing: WeChat never
    sends one, and it is what entity expansion and external entities need."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise PushMalformed("DOCTYPE or ENTITY in a push")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (no DOCTYPE: no entities to expand)
    except ElementTree.ParseError as error:
        raise PushMalformed(str(error)) from error
    if root.tag != "xml":
        raise PushMalformed(f"root is <{root.tag}>")
    decisions = []
    for wrapper in _LIST_WRAPPERS:
        for item in root.findall(f"{wrapper}/List"):
            template_id = _text(item, "TemplateId")
            if template_id:
                decisions.append(
                    TemplateDecision(template_id, _text(item, "SubscribeStatusString"))
                )
    created = _text(root, "CreateTime")
    return PushMessage(
        to_user=_text(root, "ToUserName"),
        openid=_text(root, "FromUserName"),
        create_time=int(created) if created.isdigit() else 0,
        msg_type=_text(root, "MsgType"),
        event=_text(root, "Event"),
        decisions=tuple(decisions),
    )


def _customer_of(database: Database, appid: str, openid: str) -> int | None:
    # An openid linked to more than one customer: the latest link is the one in use.
    statement = (
        select(CustomerWechatId.customer_id)
        .where(CustomerWechatId.appid == appid, CustomerWechatId.openid == openid)
        .order_by(CustomerWechatId.id.desc())
        .limit(1)
    )
    with database.read() as session:
        return session.scalars(statement).first()


def apply_push(database: Database, appid: str, message: PushMessage) -> int:
    """Records the consents a subscribe event carries; the number of templates recorded.

    A popup's accept adds a one-time send, its reject is a refusal; a change event only
    ever reports a switch-off, so only its reject counts. Other events, other statuses
    (ban, filter, cancel) and openids of no customer of ours are kept nowhere.
    """
    if message.msg_type != "event" or message.event not in (POPUP_EVENT, CHANGE_EVENT):
        return 0
    customer_id = _customer_of(database, appid, message.openid)
    if customer_id is None:
        return 0
    accepted = [d.template_id for d in message.decisions if d.status == "accept"]
    refused = [d.template_id for d in message.decisions if d.status == "reject"]
    recorded = 0
    if accepted and message.event == POPUP_EVENT:
        kind = ConsentKind.ONE_TIME
        recorded += len(record_consent(database, customer_id, appid, accepted, kind, PUSH_ACTOR))
    for template_id in dict.fromkeys(refused):
        record_refusal(database, customer_id, appid, template_id, PUSH_ACTOR)
        recorded += 1
    return recorded
