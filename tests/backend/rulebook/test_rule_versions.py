"""Rule versions: values parsed as staff type them, validated, versioned, audited, applied."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.audit.models import AuditEvent
from backend.rulebook import fields
from backend.rulebook.fields import BY_KEY, FIELDS, RulesInvalid, apply, seed_values, validate
from backend.rulebook.service import VersionConflict, in_force, list_versions, save_version
from backend.staff.models import Role
from backend.staff.permissions import PermissionDenied
from portal.settings import Settings, build_rules

SUPERVISOR = Actor(ActorKind.STAFF, "周主管", channel="admin", role=Role.SUPERVISOR)
SUPPORT = Actor(ActorKind.STAFF, "lin", channel="admin", role=Role.SUPPORT)
SEED = build_rules(Settings(channel_commissions="taobao=5,jd=8.5", shipping_cost_fen=800))


def test_the_environment_seeds_values_that_read_back_as_the_same_rules():
    values = seed_values(SEED)
    assert values["refunds.max_auto_amount_fen"] == "200"
    assert values["addresses.free_edit_window"] == "2"
    assert values["profit.commission_bp"] == "jd=8.5,taobao=5"
    assert values["profit.shipping_fen_per_parcel"] == "8"
    assert apply(SEED, values, 1) == SEED  # a round trip changes nothing
    assert apply(SEED, values, 1).refunds.rules_version == 1


@pytest.mark.parametrize(
    ("key", "typed", "expected"),
    [
        ("refunds.max_auto_amount_fen", "100", 10_000),
        ("refunds.max_auto_amount_fen", "99.5", 9_950),
        ("refunds.max_auto_amount_fen", " 0 ", 0),
        ("addresses.free_edit_window", "4", timedelta(hours=4)),
        ("profit.commission_bp", "taobao=5，jd=8.5", {"taobao": 500, "jd": 850}),
        ("profit.commission_bp", "", {}),
        ("notices.quiet_hours", "22:00-08:00", (time(22, 0), time(8, 0))),
        ("notices.quiet_hours", "21：30 至 07：45", (time(21, 30), time(7, 45))),
    ],
)
def test_values_are_read_as_staff_type_them(key, typed, expected):
    assert BY_KEY[key].parse(typed) == expected


@pytest.mark.parametrize(
    ("key", "typed", "code"),
    [
        ("refunds.max_auto_amount_fen", "-1", "yuan"),
        ("refunds.max_auto_amount_fen", "abc", "yuan"),
        ("refunds.max_auto_amount_fen", "1.234", "yuan"),
        ("refunds.max_auto_amount_fen", "100001", "out_of_range"),
        ("refunds.return_window_days", "0", "out_of_range"),
        ("refunds.return_window_days", "7.5", "whole_number"),
        ("addresses.auto_approve_after", "9999999", "whole_number"),
        ("profit.commission_bp", "taobao", "commissions"),
        ("profit.commission_bp", "taobao=200", "commissions"),
        ("notices.quiet_hours", "25:00-08:00", "time_range"),
        ("notices.quiet_hours", "晚上十点", "time_range"),
    ],
)
def test_values_out_of_bounds_or_garbled_are_refused_with_a_reason(key, typed, code):
    with pytest.raises(fields.RuleValueInvalid) as refused:
        BY_KEY[key].parse(typed)
    assert (refused.value.field, refused.value.code) == (key, code)


def test_every_problem_of_a_form_is_named_at_once():
    values = seed_values(SEED) | {
        "refunds.max_auto_amount_fen": "x",
        "refunds.return_window_days": "",
    }
    with pytest.raises(RulesInvalid) as refused:
        validate(values)
    assert refused.value.problems == {
        "refunds.max_auto_amount_fen": "yuan",
        "refunds.return_window_days": "whole_number",
    }


def test_a_save_is_a_new_version_audited_and_a_stale_form_is_refused(database):
    assert in_force(database, SEED).version == 0
    values = seed_values(SEED) | {"refunds.max_auto_amount_fen": "100"}
    assert save_version(database, values, 0, "双十一前收紧", SUPERVISOR, SEED) == 2
    current = in_force(database, SEED)
    assert current.version == 2 and current.values["refunds.max_auto_amount_fen"] == "100"
    assert apply(SEED, current.values, 2).refunds.max_auto_amount_fen == 10_000
    # The same values again: nothing new to version.
    assert save_version(database, values, 2, "", SUPERVISOR, SEED) == 2
    with pytest.raises(VersionConflict):
        save_version(database, values | {"intake.high_value_fen": "3000"}, 0, "", SUPERVISOR, SEED)
    with pytest.raises(PermissionDenied):
        save_version(database, values, 2, "", SUPPORT, SEED)
    with pytest.raises(RulesInvalid):
        save_version(
            database, values | {"refunds.max_recent_refunds": "-3"}, 2, "", SUPERVISOR, SEED
        )
    history = list_versions(database, SUPERVISOR)
    assert [v.version for v in history] == [2, 1]
    assert history[0].changed == (("refunds.max_auto_amount_fen", "200", "100"),)
    assert (history[1].created_by, history[0].created_by, history[0].note) == (
        "environment",
        "周主管",
        "双十一前收紧",
    )
    with database.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "rules.changed"))
        [event] = list(events)
    assert event.before == {"refunds.max_auto_amount_fen": "200"}
    assert event.after == {"refunds.max_auto_amount_fen": "100", "note": "双十一前收紧"}
    assert len(FIELDS) == len(values)


def test_the_return_address_and_the_loss_threshold_are_rules_too():
    address = "退货组 0571-88888888 浙江省杭州市西湖区文三路100号，仓库收"
    values = seed_values(SEED) | {
        "refunds.return_address": address,
        "profit.loss_below_fen": "5",
    }
    rules = apply(SEED, values, 3)
    assert rules.refunds.return_address == address  # a Chinese comma stays a comma
    assert rules.profit.loss_below_fen == 500
    with pytest.raises(RulesInvalid) as refused:
        validate(values | {"refunds.return_address": "长" * 201})
    assert refused.value.problems == {"refunds.return_address": "too_long"}


def test_loss_making_lists_orders_below_the_threshold():
    from backend.profit import OrderProfit, loss_making

    def earning(order_id: int, fen: int) -> OrderProfit:
        return OrderProfit(order_id, str(order_id), "jd", date(2026, 12, 1), fen, 0, 0, 0, 0)

    profits = [earning(1, -100), earning(2, 0), earning(3, 300), earning(4, 800)]
    assert [p.order_id for p in loss_making(profits)] == [1]
    assert [p.order_id for p in loss_making(profits, below_fen=500)] == [1, 2, 3]


def test_an_sla_from_the_rules_page_decides_what_is_late(database):
    from datetime import datetime

    from sqlalchemy import update

    from backend.clock import SHANGHAI
    from backend.operations import list_queue
    from backend.orders.lifecycle import OrderStatus
    from backend.orders.models import Order
    from tests.factories import make_order

    now = datetime(2026, 12, 2, 10, 30, tzinfo=SHANGHAI)  # a Wednesday, in working hours
    order = make_order(database, status=OrderStatus.PAID)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(status_changed_at=now - timedelta(minutes=30))
        )
    values = seed_values(SEED) | {"operations.sla_minutes": "paid=60"}
    relaxed = apply(SEED, values, 2).operations
    assert relaxed.limit(OrderStatus.PAID) == timedelta(minutes=60)
    assert relaxed.limit(OrderStatus.PACKED) == timedelta(hours=4)  # not named: SLA's
    late = [item.order_id for item in list_queue(database, now) if item.overdue_by]
    assert late == [order.id]  # 30 working minutes past the default 15
    assert [item for item in list_queue(database, now, relaxed) if item.overdue_by] == []
    with pytest.raises(RulesInvalid) as refused:
        validate(values | {"operations.sla_minutes": "shipped=10"})
    assert refused.value.problems == {"operations.sla_minutes": "sla"}


def test_working_hours_and_sms_templates_are_rules_too():
    from backend.notifications.outbox import NotificationConfig, with_rules

    values = seed_values(SEED) | {
        "operations.working_hours": "8-20",
        "notices.sms_templates": "shipped=SMS_900001，delivered=SMS_900002",
    }
    rules = apply(SEED, values, 4)
    assert rules.operations.working_hours == (8, 20)
    base = NotificationConfig(
        sms_templates={"shipped": "SMS_1", "out_for_delivery": "SMS_3"},
        link_base="https://t.example.cn",
        link_lifetime=timedelta(days=30),
    )
    merged = with_rules(base, rules.notices).sms_templates
    assert merged == {
        "shipped": "SMS_900001",
        "delivered": "SMS_900002",
        "out_for_delivery": "SMS_3",  # not named on the page: the settings' code stays
    }
    for bad in ("shipped", "shiped=SMS_1", "shipped=SMS 1"):
        with pytest.raises(RulesInvalid):
            validate(values | {"notices.sms_templates": bad})
    for bad in ("18-9", "9-25", "nine-six"):
        with pytest.raises(RulesInvalid):
            validate(values | {"operations.working_hours": bad})


def test_working_hours_from_the_rules_page_start_the_sla_clock_earlier(database):
    from datetime import datetime

    from sqlalchemy import update

    from backend.clock import SHANGHAI
    from backend.operations import list_queue
    from backend.orders.lifecycle import OrderStatus
    from backend.orders.models import Order
    from tests.factories import make_order

    now = datetime(2026, 12, 2, 8, 40, tzinfo=SHANGHAI)  # before the default 09:00
    order = make_order(database, status=OrderStatus.PAID)
    with database.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(status_changed_at=now - timedelta(minutes=35))
        )
    early = apply(SEED, seed_values(SEED) | {"operations.working_hours": "8-20"}, 5).operations
    assert [i for i in list_queue(database, now) if i.overdue_by] == []  # 0 working minutes
    late = [i.order_id for i in list_queue(database, now, early) if i.overdue_by]
    assert late == [order.id]  # 08:05 to 08:40 counts: past the 15-minute SLA


def test_the_official_accounts_template_ids_are_a_rule_for_that_app_only():
    from backend.notifications.outbox import NoticeRules, NotificationConfig, with_rules
    from backend.notifications.routing import WeChatApp

    official = WeChatApp("wx-official", sender=None, templates={"shipped": "OLD", "delivered": "D"})
    mini = WeChatApp("wx-mini", sender=None, templates={"shipped": "MINI"})
    base = NotificationConfig(
        wechat_apps=(official, mini),
        link_base="https://t.example.cn",
        link_lifetime=timedelta(days=30),
    )
    rules = NoticeRules(wechat_templates={"shipped": "NEW-id_1"}, wechat_appid="wx-official")
    first, second = with_rules(base, rules).wechat_apps
    assert first.templates == {"shipped": "NEW-id_1", "delivered": "D"}
    assert second.templates == {"shipped": "MINI"}
    both = replace(rules, miniprogram_templates={"shipped": "MINI-2"}, miniprogram_appid="wx-mini")
    assert [app.templates["shipped"] for app in with_rules(base, both).wechat_apps] == [
        "NEW-id_1",
        "MINI-2",
    ]
    assert with_rules(base, NoticeRules(quiet_hours=(base.quiet_start, base.quiet_end))) is base
    with pytest.raises(RulesInvalid):
        validate(seed_values(SEED) | {"notices.wechat_templates": "shipped=有 空格"})
