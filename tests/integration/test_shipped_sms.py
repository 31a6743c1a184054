"""The "shipped" text a customer gets counts the parcels, as the demo's templates word it."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from backend.jobs.worker import Worker
from backend.notifications.models import NotificationEvent
from emulators.notifications import DEMO_ALIYUN_KEYS, NotificationEmulator
from portal.background import build_handlers
from portal.demo_services import DEMO_SMS_TEMPLATES, DEMO_SMS_TEXTS
from portal.integrations import build_integrations
from portal.settings import Settings
from tests.backend.logistics.live_servers import serve
from tests.factories import THREE_LINES, make_order, ship_in_parcels

THREE_PARCELS = [
    ("shunfeng", "SF1400000000001", {"TEA-LJ-250": 1}),
    ("zhongtong", "ZT7800000000002", {"CUP-GLASS": 2}),
    ("yunda", "YD4300000000003", {"TRAY-BAMBOO": 1}),
]
ALL_IN_ONE = [("shunfeng", "SF1400000000009", {"TEA-LJ-250": 1, "CUP-GLASS": 2, "TRAY-BAMBOO": 1})]


@pytest.fixture
def sms():
    emulator = NotificationEmulator(sms_templates=DEMO_SMS_TEXTS)
    with serve(emulator.app) as url:
        yield emulator, url


def texting(settings, sms_url: str):
    """The settings `make run` wires to the emulator: its keys, signature and templates."""
    ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
    return replace(
        settings,
        aliyun_sms_access_key_id=key_id,
        aliyun_sms_access_key_secret=secret,
        aliyun_sms_sign_name="示例商城",
        aliyun_sms_endpoint=sms_url,
        sms_templates=DEMO_SMS_TEMPLATES,
    )


def work(database, settings) -> None:
    integrations = build_integrations(settings)
    try:
        Worker(database, build_handlers(settings, integrations)).run_until_idle()
    finally:
        integrations.close()


@pytest.mark.parametrize(("parcels", "count"), [(ALL_IN_ONE, 1), (THREE_PARCELS, 3)])
def test_the_shipped_text_says_how_many_parcels_left(database, settings, sms, parcels, count):
    emulator, sms_url = sms
    order = make_order(database, phone="13812345678", lines=THREE_LINES)
    ship_in_parcels(database, order.id, parcels)
    work(database, texting(settings, sms_url))

    # Parcels leaving within the hour make one text, not one each.
    (message,) = [m for m in emulator.sent("sms") if m["template_code"] == "SMS_DEMO_SHIPPED"]
    assert message["phone"] == "13812345678"
    link = message["params"]["link"]
    assert re.fullmatch(r"http://testserver/t/\w+", link)
    assert message["content"] == (
        f"【示例商城】您的订单{order.public_no}已发出{count}个包裹，运单号与物流进度请点 {link}"
    )


def test_every_demo_template_has_a_text_the_emulator_can_render():
    codes = Settings(sms_templates=DEMO_SMS_TEMPLATES).lists.sms_templates  # and accepted
    assert set(codes.values()) == set(DEMO_SMS_TEXTS)
    assert set(codes) - {"verification_code"} <= {str(event) for event in NotificationEvent}
    for text in DEMO_SMS_TEXTS.values():
        assert re.findall(r"\$\{(\w+)\}", text), text
