"""Who the mini-program's user is: a verified phone finds the customer and links the openid."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.orders.access import GrantedBy, SessionEnded, revoke_links
from backend.orders.miniprogram import (
    NoOrdersForPhone,
    PhoneNotMobile,
    grant_for_openid,
    list_miniprogram_orders,
    sign_in_with_phone,
)
from backend.orders.models import CustomerWechatId
from backend.orders.wechat_oauth import WeChatIdentity
from tests.factories import SYSTEM, make_order

APPID = "wx0000000miniprogram"
USER = WeChatIdentity(APPID, "oMiniUser000000000000000001", "oUnion0000000000000000000001")


def rows(database) -> list[tuple[int, str, str, str | None]]:
    with database.read() as session:
        found = session.execute(
            select(
                CustomerWechatId.customer_id,
                CustomerWechatId.appid,
                CustomerWechatId.openid,
                CustomerWechatId.unionid,
            )
        ).all()
    return [tuple(row) for row in found]


def link_events(database) -> int:
    with database.read() as session:
        statement = select(func.count()).where(AuditEvent.action == "customer.wechat_linked")
        return session.execute(statement).scalar_one()


def test_the_verified_phone_grants_through_the_newest_order_and_links_the_openid(database):
    make_order(database, phone="13800138000")
    newest = make_order(database, phone="13800138000")
    grant = sign_in_with_phone(database, USER, "13800138000", ip="127.0.0.1")
    assert grant.public_no == newest.public_no
    assert grant.session.granted_by == GrantedBy.MINIPROGRAM
    assert rows(database) == [(newest.customer_id, APPID, USER.openid, USER.unionid)]
    assert grant_for_openid(database, APPID, USER.openid) == grant
    assert grant_for_openid(database, "wxAnotherApp00000000", USER.openid) is None
    assert link_events(database) == 1


@pytest.mark.parametrize(
    ("phone", "country_code", "problem"),
    [
        ("13700137000", "86", NoOrdersForPhone),
        ("02088886666", "86", PhoneNotMobile),
        ("13800138000", "44", PhoneNotMobile),
    ],
)
def test_a_phone_that_finds_no_customer_links_nothing(database, phone, country_code, problem):
    make_order(database, phone="13800138000")
    with pytest.raises(problem):
        sign_in_with_phone(database, USER, phone, country_code=country_code)
    assert rows(database) == [] and link_events(database) == 0


def test_the_order_list_carries_link_versions_and_ends_with_the_grant(database):
    order = make_order(database, phone="13800138000")
    grant = sign_in_with_phone(database, USER, "13800138000")
    listed = list_miniprogram_orders(database, grant.session)
    assert [(o.summary.public_no, o.link_version) for o in listed] == [(order.public_no, 1)]
    assert listed[0].summary.phone != "13800138000"  # masked, as on the H5 list
    revoke_links(database, order.id, SYSTEM)
    with pytest.raises(SessionEnded):
        list_miniprogram_orders(database, grant.session)


def test_two_phone_taps_at_once_link_one_row_and_both_succeed(database):
    make_order(database, phone="13800138000")
    count = 4
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def tap() -> None:
        start.wait()
        try:
            sign_in_with_phone(database, USER, "13800138000")
        except BaseException as failure:  # collected, asserted below
            failures.append(failure)

    threads = [threading.Thread(target=tap) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert len(rows(database)) == 1 and link_events(database) == 1
