"""The demo's outside world: loopback Kuaidi100 and SMS emulators the app talks to for real.

`make run` serves these next to the portal, so parcels move and messages are sent
through the production adapters, webhooks and worker, not through a shortcut.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import select

from backend import jobs
from backend.db import Database
from backend.demo import Booking, list_held_waybills
from backend.logistics.models import Shipment
from backend.logistics.service import INTERNAL_CARRIERS, SUBSCRIBE
from backend.logistics.status import TERMINAL_TRACKING_STATUSES
from backend.logistics.waybills.registry import WaybillBookers
from backend.orders.models import Order
from emulators.channels import ChannelEmulator
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.notifications import (
    DEMO_ALIYUN_KEYS,
    DEMO_MINIPROGRAM_APPS,
    DEMO_WECHAT_APPS,
    NotificationEmulator,
)
from emulators.payments import PaymentsEmulator
from emulators.robots import DEMO_DINGTALK_ROBOTS, DEMO_WECOM_KEYS, RobotEmulator
from emulators.serving import serve_in_thread
from emulators.wechat_push import build_subscribe_event
from portal.integrations import packing_config, waybill_config
from portal.settings import Settings

log = logging.getLogger(__name__)

DEMO_SMS_TEMPLATES = (
    "shipped=SMS_DEMO_SHIPPED,out_for_delivery=SMS_DEMO_OUT,delivered=SMS_DEMO_SIGNED,"
    "available_for_pickup=SMS_DEMO_PICKUP,failed_attempt=SMS_DEMO_FAILED,"
    "exception=SMS_DEMO_EXCEPTION,verification_code=SMS_DEMO_CODE,"
    "address_changed=SMS_DEMO_ADDRESS,address_request_approved=SMS_DEMO_APPROVED,"
    "address_request_rejected=SMS_DEMO_REJECTED"
)
DEMO_WAYBILL_CARRIERS = ("shunfeng", "zhongtong", "yuantong", "yunda", "shentong", "jtexpress")
DEMO_WAYBILL_PROVIDERS = ",".join(f"{code}=kuaidi100" for code in DEMO_WAYBILL_CARRIERS)
DEMO_WAYBILL_ACCOUNTS = json.dumps(
    {code: {"partnerId": "DEMO", "tempId": f"demo-{code}"} for code in DEMO_WAYBILL_CARRIERS}
)
# What the demo merchant's templates say, as registered at Aliyun; the emulator renders them,
# so the demo's message log reads like the texts customers get. A template is one fixed text
# for every case: the shipped text counts parcels ("已发出1个包裹", "已发出3个包裹") and leaves
# their waybill numbers to the page it links to, since one text may stand for several
# (docs/protocols.md, "Aliyun SMS / SendSms").
_PARCEL = "您的订单${order}的包裹（${carrier} ${waybill}）"
DEMO_SMS_TEXTS = {
    "SMS_DEMO_SHIPPED": "您的订单${order}已发出${parcels}个包裹，运单号与物流进度请点 ${link}",
    "SMS_DEMO_OUT": _PARCEL + "正在派送，请保持电话畅通：${link}",
    "SMS_DEMO_SIGNED": _PARCEL + "已签收，如有问题请点 ${link}",
    "SMS_DEMO_PICKUP": _PARCEL + "已到驿站或快递柜，请及时取件：${link}",
    "SMS_DEMO_FAILED": _PARCEL + "派送未成功，快递员将再次联系您：${link}",
    "SMS_DEMO_EXCEPTION": _PARCEL + "运输异常，我们正在处理：${link}",
    "SMS_DEMO_CODE": "验证码${code}，用于修改订单收货地址，请勿告诉他人。",
    "SMS_DEMO_ADDRESS": "您的订单${order}的收货地址已改为${region}（收货人${name}），"
    "如非本人操作请点 ${link}",
    "SMS_DEMO_APPROVED": "您的订单${order}的地址修改申请已通过：${link}",
    "SMS_DEMO_REJECTED": "您的订单${order}的地址修改申请未通过：${link}",
}


class Ticker:
    """Moves every subscribed demo parcel one step each `interval` seconds."""

    def __init__(self, emulator: Kuaidi100Emulator, interval: float) -> None:
        self.emulator = emulator
        self.interval = interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-ticker", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.emulator.advance()
            except Exception:  # the demo clock must keep ticking whatever one push did
                log.exception("demo emulator tick failed")

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self.thread.join(timeout=5)


def hold_stuck_parcels(emulator: Kuaidi100Emulator, database: Database) -> None:
    """The demo's stalled parcels stay stalled, so the exceptions queue has them."""
    for carrier, number in list_held_waybills(database):
        emulator.add_waybill(carrier, number).held = True


def resubscribe_moving_parcels(database: Database) -> int:
    """The emulators keep no state between runs: parcels still on the road are subscribed again."""
    boot = secrets.token_hex(4)
    with database.write() as session:
        moving = session.scalars(
            select(Shipment.id).where(
                Shipment.carrier_code.not_in(sorted(INTERNAL_CARRIERS)),
                Shipment.status.not_in([str(s) for s in TERMINAL_TRACKING_STATUSES]),
            )
        ).all()
        for shipment_id in moving:
            jobs.enqueue(
                session,
                SUBSCRIBE,
                {"shipment_id": shipment_id},
                key=f"demo-subscribe:{boot}:{shipment_id}",
            )
    return len(moving)


@contextmanager
def demo_services(
    settings: Settings, database: Database, tick_seconds: float = 15.0
) -> Iterator[Settings]:
    """Start the emulators; yields settings wired to them (credentials, URLs, templates)."""
    ((key_id, key_secret),) = DEMO_ALIYUN_KEYS.items()
    with ExitStack() as stack:
        http = stack.enter_context(httpx.Client(timeout=httpx.Timeout(5.0)))
        kuaidi100 = Kuaidi100Emulator(http=http)
        kuaidi100.live_times, kuaidi100.origin_city = True, "杭州市"
        hold_stuck_parcels(kuaidi100, database)
        # Templates of one's own (PORTAL_SMS_TEMPLATES) have texts the emulator can't know.
        sms = NotificationEmulator(sms_templates=None if settings.sms_templates else DEMO_SMS_TEXTS)
        kuaidi100_url = stack.enter_context(serve_in_thread(kuaidi100.app, port=8100))
        sms_url = stack.enter_context(serve_in_thread(sms.app, port=8025))
        wired = replace(
            _with_kuaidi100(settings, kuaidi100, kuaidi100_url),
            aliyun_sms_access_key_id=key_id,
            aliyun_sms_access_key_secret=key_secret,
            aliyun_sms_sign_name="示例商城",
            aliyun_sms_endpoint=sms_url,
            sms_templates=settings.sms_templates or DEMO_SMS_TEMPLATES,
        )
        payments = PaymentsEmulator(settle_delay=2.0)
        payments_url = stack.enter_context(serve_in_thread(payments.app, port=8770))
        wired = _with_wechat(wired, sms, sms_url)
        wired = _with_payments(wired, payments, payments_url, database)
        wired = _with_channels(wired, stack)
        wired = _with_robots(wired, stack)
        stack.enter_context(Ticker(kuaidi100, tick_seconds))
        print(
            f"demo emulators: Kuaidi100 {kuaidi100_url}, SMS {sms_url} "
            f"(messages: {sms_url}/_emulator/messages), WeChat {sms_url}, "
            f"WeChat Pay and Alipay {payments_url}",
            flush=True,
        )
        yield wired


def _with_robots(settings: Settings, stack: ExitStack) -> Settings:
    """Staff alerts go to loopback WeCom and DingTalk robots (messages: /_emulator/messages)."""
    url = stack.enter_context(serve_in_thread(RobotEmulator().app(), port=8790))
    ((token, secret),) = DEMO_DINGTALK_ROBOTS.items()
    print(f"demo group robots: WeCom and DingTalk {url} ({url}/_emulator/messages)", flush=True)
    return replace(
        settings,
        wecom_robot_key=DEMO_WECOM_KEYS[0],
        wecom_robot_url=url,
        dingtalk_robot_token=token,
        dingtalk_robot_secret=secret,
        dingtalk_robot_url=url,
    )


def _with_kuaidi100(settings: Settings, kuaidi100: Kuaidi100Emulator, url: str) -> Settings:
    return replace(
        settings,
        kuaidi100_customer=kuaidi100.customer,
        kuaidi100_key=kuaidi100.key,
        kuaidi100_secret=kuaidi100.secret,
        kuaidi100_salt=secrets.token_hex(16),
        kuaidi100_poll_url=url,
        kuaidi100_api_url=url,
        kuaidi100_autonumber_url=f"{url}/autonumber/auto",
        # The demo books every carrier's waybills through the Kuaidi100 emulator.
        waybill_providers=DEMO_WAYBILL_PROVIDERS,
        kuaidi100_waybill_accounts=settings.kuaidi100_waybill_accounts or DEMO_WAYBILL_ACCOUNTS,
    )


@contextmanager
def demo_booking(settings: Settings) -> Iterator[Booking]:
    """The Kuaidi100 e-waybill emulator, for seeding: today's demo parcels are booked there.

    Its labels are stored with the parcels as they are booked; the emulator `portal serve`
    starts afterwards tracks them (resubscribe_moving_parcels) and hands out numbers that
    run on from the clock, so nothing booked here is handed out twice.
    """
    with ExitStack() as stack:
        http = stack.enter_context(httpx.Client(timeout=httpx.Timeout(5.0)))
        kuaidi100 = Kuaidi100Emulator(http=http)
        url = stack.enter_context(serve_in_thread(kuaidi100.app))
        wired = _with_kuaidi100(settings, kuaidi100, url)
        yield Booking(WaybillBookers(waybill_config(wired), http), packing_config(wired))


# The demo's official account: its subscribe templates, one per parcel event.
DEMO_WECHAT_EVENTS = (
    "shipped",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "failed_attempt",
    "exception",
)
DEMO_WECHAT_TEMPLATES = ",".join(
    f"{event}=DEMO-OA-{event.upper().replace('_', '-')}" for event in DEMO_WECHAT_EVENTS
)
CONSENT_DELAY_SECONDS = 2.0


def _with_wechat(settings: Settings, emulator: NotificationEmulator, url: str) -> Settings:
    """The official account and mini-program at the emulator, unless the merchant set their own.

    A demo customer opening their link with a WeChat user agent goes through the real OAuth
    round trip; the emulator then answers as the user tapping 允许 on the subscribe popup
    would: a signed server push of accepted templates to our endpoint. So the next parcel
    event goes by WeChat (in the emulator's message list), the one after by SMS again.
    """
    if settings.wechat_appid:
        return settings
    ((appid, secret),) = DEMO_WECHAT_APPS.items()
    ((mini_appid, mini_secret),) = DEMO_MINIPROGRAM_APPS.items()
    push_url = settings.base_url.rstrip("/") + "/webhooks/wechat/official"
    push_token = secrets.token_hex(16)  # what the server push is signed with, this run
    templates = [pair.partition("=")[2] for pair in DEMO_WECHAT_TEMPLATES.split(",")]

    def consent(openid: str) -> None:
        push = build_subscribe_event(push_token, openid, dict.fromkeys(templates, "accept"))
        try:
            httpx.post(push_url, params=push.params, content=push.body, timeout=5.0)
        except httpx.HTTPError as error:  # the demo goes on; that user just gets SMS
            log.warning("demo subscribe push failed: %s", type(error).__name__)

    def after_login(exchanged_appid: str, openid: str) -> None:
        if exchanged_appid == appid:  # after our callback has linked the openid
            threading.Timer(CONSENT_DELAY_SECONDS, consent, args=(openid,)).start()

    emulator.oauth.on_exchange = after_login
    return replace(
        settings,
        wechat_appid=appid,
        wechat_app_secret=secret,
        wechat_api_base_url=url,
        wechat_oauth_authorize_url=url,
        wechat_oauth_api_url=url,
        wechat_templates=DEMO_WECHAT_TEMPLATES,
        wechat_push_token=push_token,
        wechat_miniprogram_appid=mini_appid,
        wechat_miniprogram_secret=mini_secret,
    )


# Where each platform's ship-confirmation gateway answers, below the emulator's URL.
CHANNEL_GATEWAYS = {"taobao": "/router/rest", "pinduoduo": "/api/router", "jd": "/routerjson"}


def _with_channels(settings: Settings, stack: ExitStack) -> Settings:
    """A loopback platform per marketplace, and a shops file whose shops confirm to them.

    Each channel keeps its default shop (the old URLs and secrets); only API credentials
    and base URLs are added, so shipped demo parcels are confirmed through the adapters.
    """
    if settings.shops_file:
        return settings  # the merchant's own shops, as configured
    urls = {}
    for platform in ("taobao", "pinduoduo", "jd", "douyin", "shopify"):
        emulator = ChannelEmulator(platform, {f"demo-{platform}": f"demo-{platform}-secret"})
        urls[platform] = stack.enter_context(serve_in_thread(emulator.app))
    blocks = []
    for shop in settings.shops.shops:
        platform = "taobao" if shop.channel == "tmall" else str(shop.channel)
        base = urls[platform] + CHANNEL_GATEWAYS.get(platform, "")
        blocks.append(
            f"[[shops]]\ncode = {json.dumps(shop.code)}\n"
            f"channel = {json.dumps(str(shop.channel))}\n"
            f"name = {json.dumps(shop.name)}\ndefault = true\n"
            f"webhook_secret = {json.dumps(shop.webhook_secret)}\n"
            f'app_key = "demo-{platform}"\napp_secret = "demo-{platform}-secret"\n'
            f'session_token = "demo-{platform}"\napi_base_url = {json.dumps(base)}\n'
        )
    path = Path(settings.photo_dir).parent / "demo-shops.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")
    return replace(settings, shops_file=str(path))


def _with_payments(
    settings: Settings, payments: PaymentsEmulator, url: str, database: Database
) -> Settings:
    """Enrol a demo merchant and tell the emulator about every paid demo order."""
    credentials = payments.enroll_wechat_merchant("1900000109")
    keys = Path(settings.photo_dir).parent / "demo-keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "merchant.pem").write_text(credentials.private_key_pem)
    (keys / "platform.pem").write_text(credentials.platform_public_key_pem)
    # Alipay notifies a refund to the notify_url the payment was made with: ours.
    alipay_notify_url = settings.base_url.rstrip("/") + "/webhooks/alipay/notify"
    with database.read() as session:
        paid = session.execute(select(Order.public_no, Order.paid_fen).where(Order.paid_fen > 0))
        for public_no, paid_fen in paid:
            payments.seed_payment(public_no, paid_fen, notify_url=alipay_notify_url)
    alipay = payments.enroll_alipay_app("2021000000000001")
    (keys / "alipay-app.pem").write_text(alipay.private_key_pem)
    (keys / "alipay-public.pem").write_text(alipay.alipay_public_key_pem)
    return replace(
        settings,
        alipay_app_id=alipay.app_id,
        alipay_private_key_file=str(keys / "alipay-app.pem"),
        alipay_public_key_file=str(keys / "alipay-public.pem"),
        alipay_gateway_url=f"{url}/gateway.do",
        wechatpay_mchid=credentials.mchid,
        wechatpay_serial_no=credentials.serial_no,
        wechatpay_private_key_file=str(keys / "merchant.pem"),
        wechatpay_platform_keys=f"{credentials.platform_serial}={keys / 'platform.pem'}",
        wechatpay_api_v3_key=credentials.api_v3_key.decode(),
        wechatpay_base_url=url,
    )
