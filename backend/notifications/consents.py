"""WeChat subscribe-message consents: recorded per customer, app and template, used up, refused."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.actors import Actor, ActorKind
from backend.audit import record
from backend.clock import utcnow
from backend.db import Database
from backend.notifications.models import ConsentKind, WeChatConsent
from backend.orders.models import Customer, Order

SUBJECT = "wechat_consent"


class ConsentCustomerNotFound(LookupError):
    """No customer with that id: there is nobody to record a consent for."""


class ConsentNotYours(Exception):
    """Only the customer (from their own order's page) or WeChat's events may change consent.

    Staff cannot say yes for a customer: WeChat would refuse the message (43101) anyway,
    and a consent nobody gave must not be on record.
    """


@dataclass(frozen=True)
class ConsentView:
    template_id: str
    kind: ConsentKind
    remaining: int
    refused_at: datetime | None

    @property
    def can_send(self) -> bool:
        if self.refused_at is not None:
            return False
        return self.kind == ConsentKind.LONG_TERM or self.remaining > 0


def _view(row: WeChatConsent) -> ConsentView:
    return ConsentView(row.template_id, row.kind, row.remaining, row.refused_at)


def _snapshot(row: WeChatConsent | None) -> dict[str, object] | None:
    if row is None:
        return None
    refused = None if row.refused_at is None else row.refused_at.isoformat()
    return {"kind": str(row.kind), "remaining": row.remaining, "refused_at": refused}


def _check_actor(session: Session, actor: Actor, customer_id: int) -> None:
    if session.get(Customer, customer_id) is None:
        raise ConsentCustomerNotFound(customer_id)
    if actor.kind == ActorKind.SYSTEM:
        return  # the worker after a send, or WeChat's subscribe_msg_* events
    if actor.kind == ActorKind.CUSTOMER:
        # Customer actors are named after the order whose page they act from.
        public_no = actor.identifier.removeprefix("customer:")
        owner = session.scalars(select(Order.customer_id).where(Order.public_no == public_no))
        if owner.first() == customer_id:
            return
    raise ConsentNotYours(f"{actor.kind}:{actor.identifier} for customer {customer_id}")


def _statement(customer_id: int, appid: str, template_id: str) -> Select[WeChatConsent]:
    return select(WeChatConsent).where(
        WeChatConsent.customer_id == customer_id,
        WeChatConsent.appid == appid,
        WeChatConsent.template_id == template_id,
    )


def _row(session: Session, customer_id: int, appid: str, template_id: str) -> WeChatConsent | None:
    # Locked: a send using the last acceptance and a new acceptance must not both count
    # from the same remaining (SQLite's write transaction is serial already).
    statement = _statement(customer_id, appid, template_id).with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one_or_none()


def _row_made_if_missing(
    session: Session, customer_id: int, appid: str, template_id: str, kind: ConsentKind
) -> tuple[WeChatConsent, bool]:
    """(the locked row, whether it was just made).

    An insert that ignores a present row, not a check and then an insert: two taps of
    the same customer arriving together would both pass the check, and the second
    insert would abort its transaction with a unique violation.
    """
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    values = {"customer_id": customer_id, "appid": appid, "template_id": template_id}
    values |= {"kind": kind, "remaining": 0, "updated_at": utcnow()}
    made = session.execute(dialect.insert(WeChatConsent).values(values).on_conflict_do_nothing())
    assert isinstance(made, CursorResult)
    row = _row(session, customer_id, appid, template_id)
    assert row is not None
    return row, made.rowcount == 1


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    row: WeChatConsent,
    before: dict[str, object] | None,
) -> None:
    after = _snapshot(row)
    assert after is not None
    after |= {"customer_id": row.customer_id, "appid": row.appid, "template_id": row.template_id}
    record(session, actor, action, subject=SUBJECT, subject_id=row.id, before=before, after=after)


def record_consent(
    database: Database,
    customer_id: int,
    appid: str,
    template_ids: Collection[str],
    kind: ConsentKind,
    actor: Actor,
) -> list[ConsentView]:
    """The customer accepted these templates (wx.requestSubscribeMessage "accept").

    A one-time acceptance adds one send; acceptances add up, as WeChat counts them. A new
    acceptance lifts an earlier refusal: the customer has just said yes.
    """
    now = utcnow()
    views = []
    with database.write() as session:
        _check_actor(session, actor, customer_id)
        for template_id in dict.fromkeys(template_ids):  # WeChat filters duplicates too
            row, made = _row_made_if_missing(session, customer_id, appid, template_id, kind)
            before = None if made else _snapshot(row)
            row.kind = kind
            row.remaining = row.remaining + 1 if kind == ConsentKind.ONE_TIME else 0
            row.refused_at, row.updated_at = None, now
            _audit(session, actor, "wechat_consent.accepted", row, before)
            views.append(_view(row))
    return views


def use_consent(
    database: Database, customer_id: int, appid: str, template_id: str, actor: Actor
) -> bool:
    """After WeChat accepted a message: a one-time consent is used up. False if none was left.

    A long-term consent is not used up, so nothing changes and no event is written.
    """
    with database.write() as session:
        _check_actor(session, actor, customer_id)
        row = _row(session, customer_id, appid, template_id)
        if row is None or not _view(row).can_send:
            return False
        if row.kind == ConsentKind.ONE_TIME:
            before = _snapshot(row)
            row.remaining -= 1
            row.updated_at = utcnow()
            _audit(session, actor, "wechat_consent.used", row, before)
    return True


def record_refusal(
    database: Database,
    customer_id: int,
    appid: str,
    template_id: str,
    actor: Actor,
    *,
    kind: ConsentKind = ConsentKind.ONE_TIME,
) -> ConsentView:
    """The customer refused (popup "reject", a later switch-off) or a send answered 43101.

    43101 also means "one-time acceptance used up" (docs/protocols.md, "WeChat subscribe
    messages / WeChat error codes"), so whatever count we held is wrong: it goes to zero,
    and nothing is sent with this template until the customer accepts again.
    """
    now = utcnow()
    with database.write() as session:
        _check_actor(session, actor, customer_id)
        row, made = _row_made_if_missing(session, customer_id, appid, template_id, kind)
        before = None if made else _snapshot(row)
        row.remaining, row.refused_at, row.updated_at = 0, now, now
        _audit(session, actor, "wechat_consent.refused", row, before)
        return _view(row)


def get_consent(
    database: Database, customer_id: int, appid: str, template_id: str
) -> ConsentView | None:
    with database.read() as session:
        row = session.scalars(_statement(customer_id, appid, template_id)).one_or_none()
        return None if row is None else _view(row)


def list_consents(database: Database, customer_id: int, appid: str) -> list[ConsentView]:
    with database.read() as session:
        rows = session.scalars(
            select(WeChatConsent)
            .where(WeChatConsent.customer_id == customer_id, WeChatConsent.appid == appid)
            .order_by(WeChatConsent.template_id)
        ).all()
        return [_view(row) for row in rows]
