"""The mini-program customer: known by a linked openid or a phone WeChat verified; their orders.

A grant here is the same `CustomerSession` a link or lookup gives, naming the customer's
newest order as the granting one: revoking that order's links ends the mini-program
session as it ends every other (`SESSION_IS_CURRENT`), and the order list is the query
the H5 order list runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.access import (
    SESSION_IS_CURRENT,
    CustomerGrant,
    CustomerSession,
    GrantedBy,
    SessionEnded,
)
from backend.orders.models import Customer, CustomerWechatId, Order
from backend.orders.queries import SEARCH_LIMIT, OrderSummary, summary_select, to_summary
from backend.orders.wechat_identity import link_wechat_identity
from backend.orders.wechat_oauth import WeChatIdentity
from backend.personal_data import phone_index
from backend.phones import normalize_mobile


class PhoneNotMobile(Exception):
    """WeChat's verified number is not a mainland mobile, so no customer can have it."""


class NoOrdersForPhone(Exception):
    """No customer with this phone (or none with an order): nothing to show yet."""


@dataclass(frozen=True)
class MiniProgramOrder:
    """One line of the mini-program's order list, with what its signed link needs."""

    summary: OrderSummary
    link_version: int


def _grant(database: Database, customer_filter: Select[Any]) -> CustomerGrant | None:
    newest = (
        select(Order.id.label("order_id"), Order.customer_id, Order.public_no, Order.link_version)
        .where(Order.customer_id.in_(customer_filter))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(1)
    )
    with database.read() as session:
        row = session.execute(newest).first()
    if row is None:
        return None
    customer = CustomerSession(
        row.customer_id, row.order_id, row.link_version, GrantedBy.MINIPROGRAM
    )
    return CustomerGrant(customer, row.public_no)


def grant_for_openid(database: Database, appid: str, openid: str) -> CustomerGrant | None:
    """The customer this mini-program openid was linked to (by a verified phone), if any.

    The same WeChat user may have verified two phones (two customers); the newest link wins.
    """
    linked = (
        select(CustomerWechatId.customer_id)
        .where(CustomerWechatId.appid == appid, CustomerWechatId.openid == openid)
        .order_by(CustomerWechatId.linked_at.desc(), CustomerWechatId.id.desc())
        .limit(1)
    )
    return _grant(database, linked)


def sign_in_with_phone(
    database: Database,
    identity: WeChatIdentity,
    phone: str,
    *,
    country_code: str = "86",
    ip: str | None = None,
) -> CustomerGrant:
    """The customer whose phone WeChat verified, with this openid linked to them for the app.

    The phone comes from WeChat (getuserphonenumber), never from what the user typed, so it
    proves as much as an SMS code would: the customer acts for themselves here.
    """
    # A number abroad could still look like a mainland one without its area code.
    mobile = normalize_mobile(phone) if country_code in ("86", "") else None
    if mobile is None:
        raise PhoneNotMobile(phone)
    grant = _grant(database, select(Customer.id).where(Customer.phone_index == phone_index(mobile)))
    if grant is None:
        raise NoOrdersForPhone
    actor = Actor(
        ActorKind.CUSTOMER, f"customer:{grant.customer_id}", ip=ip, channel="wechat-miniprogram"
    )
    # Two phone taps at once: link_wechat_identity itself retries the one that lost.
    link_wechat_identity(database, grant.session, identity, actor)
    return grant


def check_session(database: Database, customer: CustomerSession) -> None:
    """SessionEnded unless the granting order still has the grant's link version."""
    with database.read() as session:
        if not session.execute(select(SESSION_IS_CURRENT), customer.parameters()).scalar():
            raise SessionEnded


def list_miniprogram_orders(
    database: Database, customer: CustomerSession
) -> list[MiniProgramOrder]:
    """The customer's orders with their link versions, in the one query that checks the session."""
    statement = (
        summary_select()
        .add_columns(Order.link_version)
        .where(Order.customer_id == bindparam("customer_id"), SESSION_IS_CURRENT)
        .order_by(Order.placed_at.desc())
        .limit(SEARCH_LIMIT)
    )
    with database.read() as session:
        rows = session.execute(statement, customer.parameters()).all()
    if not rows:
        raise SessionEnded  # a current session always finds its granting order
    return [MiniProgramOrder(to_summary(row, masked=True), row.link_version) for row in rows]
