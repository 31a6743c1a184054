"""Customer access: short codes, signed links and the rate-limited lookup."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.clock import utcnow
from backend.orders import access
from backend.orders.access import (
    LinkExpired,
    LinkInvalid,
    LinkRevoked,
    LinkSigner,
    LookupNotFound,
    LookupRateLimited,
)
from backend.orders.models import LookupAttempt, ShortLink
from backend.orders.service import OrderNotFound
from backend.staff.models import Role
from tests.factories import make_order

STAFF = Actor(ActorKind.STAFF, "小王", ip="10.0.0.1", channel="admin", role=Role.SUPPORT)
KEYS = ["key-one-0123456789abcdef", "key-two-0123456789abcdef"]


def test_a_short_code_opens_its_order_for_its_customer(database):
    order = make_order(database)
    code = access.issue_short_link(database, order.id, STAFF, timedelta(days=30))
    grant = access.resolve_short_link(database, code)
    assert (grant.order_id, grant.customer_id, grant.public_no) == (
        order.id,
        order.customer_id,
        order.public_no,
    )


def test_short_codes_are_eight_unambiguous_characters_and_fit_an_sms(database):
    order = make_order(database)
    codes = {
        access.issue_short_link(database, order.id, STAFF, timedelta(days=1)) for _ in range(20)
    }
    assert len(codes) == 20
    for code in codes:
        assert len(code) == 8
        assert not set(code) & set("0O1lI")
        assert len(f"https://t.example.cn/t/{code}") < 40


def test_only_a_hash_of_the_code_is_stored(database):
    order = make_order(database)
    code = access.issue_short_link(database, order.id, STAFF, timedelta(days=1))
    with database.read() as session:
        stored = session.scalars(select(ShortLink.code_hash)).all()
    assert code not in stored
    assert access.hash_code(code) in stored


@pytest.mark.parametrize("code", ["", "abc", "2VNn67VT", "2VNn67V0", "../../etc", "x" * 500])
def test_unknown_or_malformed_codes_are_invalid(database, code):
    with pytest.raises(LinkInvalid):
        access.resolve_short_link(database, code)


def test_an_expired_code_says_so(database):
    order = make_order(database)
    code = access.issue_short_link(database, order.id, STAFF, timedelta(days=1))
    with pytest.raises(LinkExpired):
        access.resolve_short_link(database, code, now=utcnow() + timedelta(days=2))


def test_revoking_kills_codes_and_signed_links_and_is_audited(database):
    order = make_order(database)
    signer = LinkSigner(KEYS, timedelta(days=30))
    code = access.issue_short_link(database, order.id, STAFF, timedelta(days=30))
    token = signer.sign(order.id, order.link_version)
    access.revoke_links(database, order.id, STAFF)
    with pytest.raises(LinkRevoked):
        access.resolve_short_link(database, code)
    with pytest.raises(LinkRevoked):
        access.resolve_signed_link(database, signer, token)
    with database.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "link.revoked_all")
        ).one()
    assert (event.actor_id, event.ip, event.after["short_links_revoked"]) == ("小王", "10.0.0.1", 1)
    fresh = signer.sign(order.id, order.link_version + 1)
    assert access.resolve_signed_link(database, signer, fresh).order_id == order.id


def test_links_cannot_be_issued_or_revoked_for_an_unknown_order(database):
    with pytest.raises(OrderNotFound):
        access.issue_short_link(database, 999_999, STAFF, timedelta(days=1))
    with pytest.raises(OrderNotFound):
        access.revoke_links(database, 999_999, STAFF)


def test_a_signed_link_survives_key_rotation_but_not_tampering(database):
    order = make_order(database)
    old = LinkSigner(KEYS[:1], timedelta(days=30)).sign(order.id, 1)
    rotated = LinkSigner([KEYS[0], KEYS[1]], timedelta(days=30))
    assert access.resolve_signed_link(database, rotated, old).order_id == order.id
    head, _, signature = old.rpartition(".")
    tampered = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    with pytest.raises(LinkInvalid):
        access.resolve_signed_link(database, rotated, tampered)
    with pytest.raises(LinkInvalid):
        access.resolve_signed_link(database, LinkSigner(KEYS[1:], timedelta(days=30)), old)


def test_a_signed_link_for_another_order_id_cannot_be_forged(database):
    order = make_order(database)
    token = LinkSigner(KEYS, timedelta(days=30)).sign(order.id, 1)
    forged = token.replace(token.split(".")[0], "eyJvIjo5OTksInYiOjF9")
    with pytest.raises(LinkInvalid):
        access.resolve_signed_link(database, LinkSigner(KEYS, timedelta(days=30)), forged)


def test_an_old_signed_link_expires(database):
    order = make_order(database)
    signer = LinkSigner(KEYS, timedelta(seconds=-1))
    with pytest.raises(LinkExpired):
        access.resolve_signed_link(database, signer, signer.sign(order.id, 1))


def test_lookup_by_order_number_or_channel_number_and_the_last_four_digits(database):
    order = make_order(database, phone="13912345678")
    for number in (order.public_no, order.channel_order_no, f" {order.public_no.lower()} "):
        grant = access.lookup_order(database, number, "5678", ip="1.2.3.4")
        assert grant.order_id == order.id


@pytest.mark.parametrize(
    ("number", "digits"),
    [("WRONG", "5678"), (None, "0000"), (None, "567"), (None, "abcd"), ("", ""), (None, "45678")],
)
def test_every_failed_lookup_gives_the_same_answer(database, number, digits):
    order = make_order(database, phone="13912345678")
    with pytest.raises(LookupNotFound) as raised:
        access.lookup_order(database, order.public_no if number is None else number, digits, "ip")
    assert str(raised.value) == ""


def test_five_failures_lock_the_order_number_for_everyone(database):
    order = make_order(database, phone="13912345678")
    for attempt in range(5):
        with pytest.raises(LookupNotFound):
            access.lookup_order(database, order.public_no, "0000", ip=f"10.0.0.{attempt}")
    with pytest.raises(LookupRateLimited):
        access.lookup_order(database, order.public_no, "5678", ip="10.9.9.9")
    later = utcnow() + timedelta(minutes=16)
    assert access.lookup_order(database, order.public_no, "5678", "10.9.9.9", now=later)


def test_twenty_attempts_a_minute_from_one_address_are_the_most(database):
    order = make_order(database, phone="13912345678")
    for number in range(20):
        with pytest.raises(LookupNotFound):
            access.lookup_order(database, f"GUESS{number}", "0000", ip="6.6.6.6")
    with pytest.raises(LookupRateLimited):
        access.lookup_order(database, order.public_no, "5678", ip="6.6.6.6")
    assert access.lookup_order(database, order.public_no, "5678", ip="7.7.7.7")


def test_old_lookup_attempts_are_pruned(database):
    with pytest.raises(LookupNotFound):
        access.lookup_order(database, "X", "0000", "ip", now=utcnow() - timedelta(days=2))
    with pytest.raises(LookupNotFound):
        access.lookup_order(database, "Y", "0000", "ip")
    assert access.prune_lookup_attempts(database) == 1
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(LookupAttempt)) == 1
