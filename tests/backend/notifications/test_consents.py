"""Subscribe-message consents: recorded, used up and refused, read back from the database."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.notifications.consents import (
    ConsentCustomerNotFound,
    ConsentNotYours,
    get_consent,
    list_consents,
    record_consent,
    record_refusal,
    use_consent,
)
from backend.notifications.models import ConsentKind, WeChatConsent
from backend.staff.models import Role
from tests.factories import SYSTEM, make_order

APPID = "wx1234567890abcdef"
OTHER_APPID = "wxfedcba0987654321"
SHIPPED = "tmpl-shipped-0001"
DELIVERED = "tmpl-delivered-0002"


@pytest.fixture
def order(database):
    return make_order(database)


def customer_of(order) -> Actor:
    return Actor(ActorKind.CUSTOMER, f"customer:{order.public_no}", channel="portal")


def audit_actions(database) -> list[str]:
    with database.read() as session:
        statement = select(AuditEvent.action).where(AuditEvent.subject == "wechat_consent")
        return list(session.scalars(statement.order_by(AuditEvent.id)))


def consent_rows(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(WeChatConsent)) or 0


def test_each_one_time_acceptance_allows_one_message(database, order):
    record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    assert get_consent(database, order.customer_id, APPID, SHIPPED).remaining == 2
    assert use_consent(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    assert use_consent(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    assert not use_consent(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    consent = get_consent(database, order.customer_id, APPID, SHIPPED)
    assert (consent.remaining, consent.can_send) == (0, False)
    assert audit_actions(database) == ["wechat_consent.accepted"] * 2 + ["wechat_consent.used"] * 2


def test_consents_are_kept_per_customer_app_and_template(database, order):
    other = make_order(database, phone="13900139000", name="李四")
    record_consent(
        database, order.customer_id, APPID, [SHIPPED, DELIVERED], ConsentKind.ONE_TIME, SYSTEM
    )
    listed = list_consents(database, order.customer_id, APPID)
    assert [c.template_id for c in listed] == sorted([SHIPPED, DELIVERED])
    assert list_consents(database, order.customer_id, OTHER_APPID) == []
    assert list_consents(database, other.customer_id, APPID) == []
    assert not use_consent(database, other.customer_id, APPID, SHIPPED, SYSTEM)
    assert not use_consent(database, order.customer_id, OTHER_APPID, SHIPPED, SYSTEM)
    assert get_consent(database, order.customer_id, APPID, SHIPPED).remaining == 1


def test_a_template_named_twice_in_one_tap_counts_once(database, order):
    record_consent(
        database, order.customer_id, APPID, [SHIPPED, SHIPPED], ConsentKind.ONE_TIME, SYSTEM
    )
    assert get_consent(database, order.customer_id, APPID, SHIPPED).remaining == 1


def test_a_long_term_consent_is_not_used_up(database, order):
    record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.LONG_TERM, SYSTEM)
    for _ in range(3):
        assert use_consent(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    consent = get_consent(database, order.customer_id, APPID, SHIPPED)
    assert consent.kind is ConsentKind.LONG_TERM and consent.can_send
    assert audit_actions(database) == ["wechat_consent.accepted"]


def test_a_refusal_is_remembered_and_stops_sending(database, order):
    record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    # WeChat answered 43101: whatever we counted, nothing more may go out.
    record_refusal(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    consent = get_consent(database, order.customer_id, APPID, SHIPPED)
    assert consent.refused_at is not None and consent.remaining == 0
    assert not consent.can_send
    assert not use_consent(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    with database.read() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "wechat_consent.refused")
        ).all()
    assert event.before["remaining"] == 2 and event.after["remaining"] == 0


def test_a_refusal_before_any_acceptance_is_remembered_too(database, order):
    record_refusal(database, order.customer_id, APPID, SHIPPED, customer_of(order))
    consent = get_consent(database, order.customer_id, APPID, SHIPPED)
    assert consent.refused_at is not None and consent.kind is ConsentKind.ONE_TIME


def test_a_new_acceptance_lifts_a_refusal(database, order):
    record_refusal(database, order.customer_id, APPID, SHIPPED, SYSTEM)
    record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    consent = get_consent(database, order.customer_id, APPID, SHIPPED)
    assert consent.refused_at is None and consent.remaining == 1 and consent.can_send


def test_the_customer_records_their_own_consent_from_their_order(database, order):
    record_consent(
        database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, customer_of(order)
    )
    with database.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.subject == "wechat_consent"))
        assert event.one().actor_id == f"customer:{order.public_no}"


@pytest.mark.parametrize(
    "actor",
    [
        Actor(ActorKind.STAFF, "staff:1", role=Role.ADMIN),
        Actor(ActorKind.CARRIER, "sf"),
        Actor(ActorKind.CUSTOMER, "customer:NOT-AN-ORDER"),
    ],
    ids=["staff", "carrier", "stranger"],
)
def test_nobody_else_may_consent_or_refuse_for_a_customer(database, order, actor):
    with pytest.raises(ConsentNotYours):
        record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, actor)
    with pytest.raises(ConsentNotYours):
        record_refusal(database, order.customer_id, APPID, SHIPPED, actor)
    assert consent_rows(database) == 0 and audit_actions(database) == []


def test_another_customers_order_does_not_give_the_right(database, order):
    other = make_order(database, phone="13900139000", name="李四")
    with pytest.raises(ConsentNotYours):
        record_consent(
            database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, customer_of(other)
        )
    assert consent_rows(database) == 0


def test_an_unknown_customer_is_refused(database):
    with pytest.raises(ConsentCustomerNotFound):
        record_consent(database, 999_999, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    assert consent_rows(database) == 0


def run_together(count: int, action) -> list:
    start = threading.Barrier(count)
    results: list = []

    def run() -> None:
        start.wait()
        results.append(action())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_taps_arriving_together_each_count(database, order):
    def tap():
        return record_consent(
            database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM
        )

    assert len(run_together(4, tap)) == 4
    assert get_consent(database, order.customer_id, APPID, SHIPPED).remaining == 4
    assert consent_rows(database) == 1


def test_sends_racing_for_the_last_acceptances_use_each_only_once(database, order):
    for _ in range(2):
        record_consent(database, order.customer_id, APPID, [SHIPPED], ConsentKind.ONE_TIME, SYSTEM)
    used = run_together(5, lambda: use_consent(database, order.customer_id, APPID, SHIPPED, SYSTEM))
    assert sorted(used) == [False, False, False, True, True]
    assert get_consent(database, order.customer_id, APPID, SHIPPED).remaining == 0
