"""Linking a customer's WeChat identity: one openid per customer per app, audited, used once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.orders.access import (
    CustomerSession,
    GrantedBy,
    SessionEnded,
    issue_short_link,
    resolve_short_link,
    revoke_links,
)
from backend.orders.models import Customer, CustomerWechatId, WechatOAuthNonce
from backend.orders.wechat_identity import (
    NotTheCustomer,
    StateReplayed,
    get_wechat_id,
    has_wechat_id,
    link_wechat_identity,
    use_oauth_state,
)
from backend.orders.wechat_oauth import WeChatIdentity
from tests.factories import make_order

SYSTEM = Actor(ActorKind.SYSTEM, "test")
APP, OTHER_APP = "wx1111111111111111", "wx2222222222222222"


def session_of(database, order) -> CustomerSession:
    code = issue_short_link(database, order.id, SYSTEM, timedelta(days=1))
    return resolve_short_link(database, code).session


def actor_of(session: CustomerSession) -> Actor:
    return Actor(ActorKind.CUSTOMER, f"customer:{session.customer_id}", channel="wechat-oauth")


def events(database) -> list[AuditEvent]:
    with database.read() as session:
        statement = select(AuditEvent).where(AuditEvent.action == "customer.wechat_linked")
        rows = list(session.execute(statement.order_by(AuditEvent.id)).scalars())
        session.expunge_all()
        return rows


def test_a_link_is_kept_per_app_and_a_newer_openid_replaces_the_older_one(database):
    customer = session_of(database, make_order(database))
    actor = actor_of(customer)
    assert link_wechat_identity(database, customer, WeChatIdentity(APP, "oFirst", None), actor)
    assert link_wechat_identity(
        database, customer, WeChatIdentity(OTHER_APP, "oOther", "oU"), actor
    )
    assert link_wechat_identity(database, customer, WeChatIdentity(APP, "oSecond", "oU"), actor)

    assert get_wechat_id(database, customer.customer_id, APP) == WeChatIdentity(
        APP, "oSecond", "oU"
    )
    assert has_wechat_id(database, customer.customer_id, OTHER_APP)
    with database.read() as session:
        count = select(func.count()).select_from(CustomerWechatId)
        assert session.execute(count).scalar() == 2
        row = session.get(Customer, customer.customer_id)
        assert row is not None and row.wechat_openid == "oSecond"
    last = events(database)[-1]
    assert last.before == {"openid": "oFirst", "unionid": None, "appid": APP}
    assert last.after == {"openid": "oSecond", "unionid": "oU", "appid": APP}
    assert last.actor_kind == ActorKind.CUSTOMER and last.actor_channel == "wechat-oauth"


def test_linking_the_same_identity_again_changes_nothing_and_records_nothing(database):
    customer = session_of(database, make_order(database))
    identity = WeChatIdentity(APP, "oSame", None)
    assert link_wechat_identity(database, customer, identity, actor_of(customer))
    assert not link_wechat_identity(database, customer, identity, actor_of(customer))
    assert len(events(database)) == 1


def test_a_session_whose_links_were_revoked_links_nothing(database):
    order = make_order(database)
    customer = session_of(database, order)
    revoke_links(database, order.id, SYSTEM)
    with pytest.raises(SessionEnded):
        link_wechat_identity(
            database, customer, WeChatIdentity(APP, "oX", None), actor_of(customer)
        )
    assert not has_wechat_id(database, customer.customer_id, APP) and events(database) == []


@pytest.mark.parametrize(
    "actor",
    [SYSTEM, Actor(ActorKind.STAFF, "staff:1"), Actor(ActorKind.CUSTOMER, "customer:999")],
)
def test_nobody_but_the_customer_links_their_wechat(database, actor):
    customer = session_of(database, make_order(database))
    stranger = CustomerSession(customer.customer_id, customer.order_id, 1, GrantedBy.LOOKUP)
    with pytest.raises(NotTheCustomer):
        link_wechat_identity(database, stranger, WeChatIdentity(APP, "oX", None), actor)
    assert not has_wechat_id(database, customer.customer_id, APP) and events(database) == []


def test_a_state_nonce_is_used_once_even_by_two_callbacks_at_the_same_moment(database):
    customer = session_of(database, make_order(database))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def callback() -> None:
        start.wait()
        try:
            use_oauth_state(database, "a" * 24, customer.customer_id)
            outcomes.append("used")
        except StateReplayed:
            outcomes.append("replayed")

    threads = [threading.Thread(target=callback) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["replayed", "used"]
    with pytest.raises(StateReplayed):
        use_oauth_state(database, "a" * 24, customer.customer_id)


def test_nonces_older_than_a_day_are_dropped_as_new_ones_are_used(database):
    customer = session_of(database, make_order(database))
    use_oauth_state(database, "b" * 24, customer.customer_id, now=utcnow() - timedelta(days=2))
    use_oauth_state(database, "c" * 24, customer.customer_id)
    with database.read() as session:
        nonces = session.execute(select(WechatOAuthNonce.nonce)).scalars().all()
    assert nonces == ["c" * 24]
