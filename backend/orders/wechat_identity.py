"""A customer's WeChat identity per app: is one linked, use an OAuth state once, link one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders.access import SESSION_IS_CURRENT, CustomerSession, SessionEnded
from backend.orders.models import Customer, CustomerWechatId, WechatOAuthNonce
from backend.orders.wechat_oauth import WeChatIdentity

# Used nonces are kept well past a state's lifetime (10 minutes); older ones can never be
# presented again with a valid signature, so they are dropped as new ones come in.
NONCE_RETENTION = timedelta(days=1)


class NotTheCustomer(Exception):
    """Only the customer themselves links their WeChat: staff never type in an openid."""


class StateReplayed(Exception):
    """This OAuth state was used before: a replay, or the browser sending the callback twice."""


def has_wechat_id(database: Database, customer_id: int, appid: str) -> bool:
    statement = select(CustomerWechatId.id).where(
        CustomerWechatId.customer_id == customer_id, CustomerWechatId.appid == appid
    )
    with database.read() as session:
        return session.execute(statement).first() is not None


def get_wechat_id(database: Database, customer_id: int, appid: str) -> WeChatIdentity | None:
    statement = select(CustomerWechatId).where(
        CustomerWechatId.customer_id == customer_id, CustomerWechatId.appid == appid
    )
    with database.read() as session:
        row = session.execute(statement).scalar_one_or_none()
        return None if row is None else WeChatIdentity(row.appid, row.openid, row.unionid)


def use_oauth_state(
    database: Database, nonce: str, customer_id: int, now: datetime | None = None
) -> None:
    """Records the state's nonce as used; StateReplayed if it already was."""
    now = now or utcnow()
    try:
        with database.write() as session:
            session.execute(
                delete(WechatOAuthNonce).where(WechatOAuthNonce.used_at < now - NONCE_RETENTION)
            )
            session.add(WechatOAuthNonce(nonce=nonce, customer_id=customer_id, used_at=now))
    except IntegrityError as used:
        # The unique nonce decides, so two callbacks racing cannot both pass.
        raise StateReplayed(nonce) from used


def _check_customer(actor: Actor, customer: CustomerSession) -> None:
    if actor.kind != ActorKind.CUSTOMER or actor.identifier != f"customer:{customer.customer_id}":
        raise NotTheCustomer(actor.identifier)


def link_wechat_identity(
    database: Database,
    customer: CustomerSession,
    identity: WeChatIdentity,
    actor: Actor,
    now: datetime | None = None,
) -> bool:
    """Links the openid to the customer for its app; True if anything changed.

    One openid per customer per app: a different WeChat account opening the customer's
    link later replaces the earlier one (the audit event keeps both). The customers row's
    wechat_openid follows, though nothing sends to it any more: the outbox reads the
    openid of the app whose consent it uses from customer_wechat_ids.
    """
    _check_customer(actor, customer)
    at = now or utcnow()
    for attempt in range(2):
        try:
            with database.write() as session:
                return _link(session, customer, identity, actor, at)
        except IntegrityError:
            # Two first links of one customer at once (two tabs, two taps): the other
            # inserted the row first, and the second try updates or finds it unchanged.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _link(
    session: Session,
    customer: CustomerSession,
    identity: WeChatIdentity,
    actor: Actor,
    now: datetime,
) -> bool:
    current = session.execute(select(SESSION_IS_CURRENT), customer.parameters()).scalar()
    if not current:
        raise SessionEnded
    row = session.execute(
        select(CustomerWechatId).where(
            CustomerWechatId.customer_id == customer.customer_id,
            CustomerWechatId.appid == identity.appid,
        )
    ).scalar_one_or_none()
    before = None if row is None else {"openid": row.openid, "unionid": row.unionid}
    after = {"openid": identity.openid, "unionid": identity.unionid}
    if before == after:
        return False
    if row is None:
        row = CustomerWechatId(customer_id=customer.customer_id, appid=identity.appid)
        session.add(row)
    row.openid, row.unionid, row.linked_at = identity.openid, identity.unionid, now
    customer_row = session.get(Customer, customer.customer_id)
    assert customer_row is not None  # the current session proved it exists
    customer_row.wechat_openid = identity.openid
    audit.record(
        session,
        actor,
        "customer.wechat_linked",
        subject="customer",
        subject_id=customer.customer_id,
        before=before and {**before, "appid": identity.appid},
        after={**after, "appid": identity.appid},
        at=now,
    )
    return True


class CodeExchanger(Protocol):
    """Turns an OAuth code into the WeChat identity (backend/orders/wechat_oauth.py)."""

    def exchange_code(self, code: str) -> WeChatIdentity: ...


def link_from_oauth_code(
    database: Database,
    exchanger: CodeExchanger,
    customer: CustomerSession,
    nonce: str,
    code: str,
    actor: Actor,
) -> WeChatIdentity:
    """The callback's work: use the state once, exchange the code, link what it names.

    The nonce is spent before WeChat is asked, so a replayed callback never reaches
    WeChat; a failed exchange leaves it spent too, and the page simply opens without.
    """
    use_oauth_state(database, nonce, customer.customer_id)
    identity = exchanger.exchange_code(code)
    link_wechat_identity(database, customer, identity, actor)
    return identity
