"""The outside world as configured: one HTTP client, carrier and notification clients."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from backend.breaker import BreakerChange
from backend.breaker_states import BreakerStateRecorder
from backend.db import Database
from backend.fulfilment.packing import PackingConfig
from backend.logistics.carriers import sf
from backend.logistics.carriers.base import CircuitBreaker
from backend.logistics.carriers.kuaidi100 import Kuaidi100Client
from backend.logistics.tracking_jobs import TrackingClients
from backend.logistics.waybills.base import Party
from backend.logistics.waybills.registry import (
    Kuaidi100WaybillConfig,
    SfWaybillConfig,
    WaybillBookers,
    WaybillConfig,
)
from backend.notifications.aliyun_sms import AliyunSmsClient
from backend.notifications.outbox import (
    NotificationConfig,
)
from backend.notifications.routing import WeChatApp
from backend.notifications.wechat_jsapi import DatabaseTicketProvider, JsapiSigner
from backend.notifications.wechat_subscribe import (
    BIZSEND_PATH,
    SEND_PATH,
    StableTokenProvider,
    TokenProvider,
    WeChatBreaker,
    WeChatClient,
)
from backend.notifications.wechat_tokens import DatabaseTokenProvider
from backend.orders.channels.ship_confirm.base import merge_carriers
from backend.orders.channels.ship_confirm.registry import DEFAULT_CARRIERS, ShipConfirmers
from backend.orders.wechat_oauth import WeChatOAuthClient
from backend.refunds.gateways.alipay import AlipayClient
from backend.refunds.gateways.base import RefundGateway, load_private_key, load_public_key
from backend.refunds.gateways.wechatpay import WeChatPayClient
from backend.refunds.payouts import Gateways
from backend.robots.base import RobotSender
from backend.robots.dingtalk import DingTalkRobot
from backend.robots.wecom import WeComRobot
from portal.settings import Settings

# WeChat's access token travels in the query string; httpx logs URLs at INFO.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass
class Integrations:
    http: httpx.Client
    tracking: TrackingClients
    notifications: NotificationConfig
    refunds: Gateways
    ship_confirmers: ShipConfirmers
    waybills: WaybillBookers | None = None
    wechat_oauth: WeChatOAuthClient | None = None
    wechat_jsapi: JsapiSigner | None = None
    # The group robots staff alerts go to, by name; empty when none is configured.
    robots: dict[str, RobotSender] = field(default_factory=dict)
    # Every breaker built here reports its transitions to it (the integration health page).
    breaker_states: BreakerStateRecorder | None = None

    def close(self) -> None:
        self.http.close()
        if self.breaker_states is not None:
            self.breaker_states.close()


OnChange = Callable[[BreakerChange], None] | None


def _tracking(settings: Settings, http: httpx.Client, on_change: OnChange) -> TrackingClients:
    kuaidi100 = None
    if settings.kuaidi100_key:
        kuaidi100 = Kuaidi100Client(
            http,
            customer=settings.kuaidi100_customer,
            key=settings.kuaidi100_key,
            salt=settings.kuaidi100_salt,
            secret=settings.kuaidi100_secret,
            poll_base_url=settings.kuaidi100_poll_url,
            api_base_url=settings.kuaidi100_api_url,
            breaker=CircuitBreaker("kuaidi100", on_change=on_change),
        )
    op_codes = sf.build_op_code_table(settings.lists.sf_op_codes)
    sf_client = None
    if settings.sf_partner_id:
        sf_client = sf.SfClient(
            http,
            partner_id=settings.sf_partner_id,
            check_word=settings.sf_check_word,
            base_url=settings.sf_url,
            op_codes=op_codes,
            breaker=CircuitBreaker("sf", on_change=on_change),
        )
    return TrackingClients(
        kuaidi100=kuaidi100,
        sf=sf_client,
        callback_url=settings.base_url.rstrip("/") + "/webhooks/kuaidi100",
        poll_carriers=frozenset(settings.tracking_poll_carriers),
        sf_op_codes=op_codes,
    )


def wechat_tokens(
    settings: Settings,
    http: httpx.Client,
    database: Database | None,
    breaker: WeChatBreaker | None = None,
    *,
    app: tuple[str, str] | None = None,
) -> TokenProvider:
    """The token kept in the database, shared by every process and machine using it.

    `app` is (appid, secret), the official account's by default. Without a database (a
    script or test that sends nothing through the outbox) the token is cached in this
    process only; the portal and its workers always pass one.
    """
    appid, secret = app or (settings.wechat_appid, settings.wechat_app_secret)
    base_url = settings.wechat_api_base_url
    if database is None:
        return StableTokenProvider(
            http, appid=appid, secret=secret, base_url=base_url, breaker=breaker
        )
    return DatabaseTokenProvider(
        database, http, appid=appid, secret=secret, base_url=base_url, breaker=breaker
    )


def _wechat_apps(
    settings: Settings, http: httpx.Client, database: Database | None, on_change: OnChange
) -> tuple[WeChatApp, ...]:
    """The official account first (bizsend), then the mini-program (send): the order in
    which the outbox looks for a consent it may use."""
    layout = dict(settings.lists.wechat_template_fields)
    official = (settings.wechat_appid, settings.wechat_app_secret, settings.lists.wechat_templates)
    configured = [
        (*official, BIZSEND_PATH),
        (
            settings.wechat_miniprogram_appid,
            settings.wechat_miniprogram_secret,
            settings.lists.miniprogram_templates,
            SEND_PATH,
        ),
    ]
    apps = []
    for appid, secret, templates, path in configured:
        if not appid:
            continue
        # The token and send calls share one host, so one breaker.
        breaker = WeChatBreaker(f"wechat:{appid}", on_change=on_change)
        tokens = wechat_tokens(settings, http, database, breaker, app=(appid, secret))
        sender = WeChatClient(
            http, tokens, base_url=settings.wechat_api_base_url, breaker=breaker, send_path=path
        )
        apps.append(WeChatApp(appid, sender, dict(templates), layout))
    return tuple(apps)


def _notifications(
    settings: Settings, http: httpx.Client, database: Database | None, on_change: OnChange
) -> NotificationConfig:
    sms = None
    if settings.aliyun_sms_access_key_id:
        sms = AliyunSmsClient(
            http,
            access_key_id=settings.aliyun_sms_access_key_id,
            access_key_secret=settings.aliyun_sms_access_key_secret,
            sign_name=settings.aliyun_sms_sign_name,
            endpoint=settings.aliyun_sms_endpoint,
        )
    quiet_start, quiet_end = settings.lists.quiet_hours
    return NotificationConfig(
        sms=sms,
        sms_templates=dict(settings.lists.sms_templates),
        wechat_apps=_wechat_apps(settings, http, database, on_change),
        both_channels=settings.notify_both_channels,
        link_base=settings.base_url,
        link_lifetime=timedelta(days=settings.short_link_days),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
    )


def _read(path: str) -> str:
    return Path(path).read_text()


def _refunds(settings: Settings, http: httpx.Client) -> Gateways:
    gateways: dict[str, RefundGateway] = {}
    if settings.wechatpay_mchid:
        gateways["wechatpay"] = WeChatPayClient(
            http,
            mchid=settings.wechatpay_mchid,
            serial_no=settings.wechatpay_serial_no,
            private_key=load_private_key(_read(settings.wechatpay_private_key_file)),
            platform_keys={
                serial: load_public_key(_read(path))
                for serial, path in settings.lists.wechatpay_platform_keys.items()
            },
            api_v3_key=settings.wechatpay_api_v3_key.encode(),
            notify_url=settings.base_url.rstrip("/") + "/webhooks/wechatpay/refund",
            base_url=settings.wechatpay_base_url,
        )
    if settings.alipay_app_id:
        gateways["alipay"] = AlipayClient(
            http,
            app_id=settings.alipay_app_id,
            private_key=load_private_key(_read(settings.alipay_private_key_file)),
            alipay_public_key=load_public_key(_read(settings.alipay_public_key_file)),
            gateway_url=settings.alipay_gateway_url,
        )
    return Gateways(gateways)


def _ship_confirmers(settings: Settings, http: httpx.Client) -> ShipConfirmers:
    return ShipConfirmers(
        http,
        carriers=merge_carriers(DEFAULT_CARRIERS, settings.lists.ship_confirm_carriers),
        methods=dict(settings.lists.ship_confirm_methods),
    )


def waybill_config(settings: Settings) -> WaybillConfig:
    """Who books which carrier, with what account; credentials missing means not that one."""
    kuaidi100 = None
    if settings.kuaidi100_key and settings.kuaidi100_secret:
        subscribe = settings.kuaidi100_waybill_subscribe
        kuaidi100 = Kuaidi100WaybillConfig(
            key=settings.kuaidi100_key,
            secret=settings.kuaidi100_secret,
            api_url=settings.kuaidi100_api_url,
            accounts=dict(settings.lists.kuaidi100_waybill_accounts),
            print_type=settings.kuaidi100_waybill_print_type,
            printer_siid=settings.kuaidi100_printer_siid,
            poll_callback_url=(
                settings.base_url.rstrip("/") + "/webhooks/kuaidi100" if subscribe else ""
            ),
            salt=settings.kuaidi100_salt if subscribe else "",
        )
    sf_config = None
    if settings.sf_partner_id:
        sf_config = SfWaybillConfig(
            partner_id=settings.sf_partner_id,
            check_word=settings.sf_check_word,
            url=settings.sf_url,
            monthly_card=settings.sf_monthly_card,
            template_code=settings.sf_waybill_template,
            express_type_id=settings.sf_express_type_id,
            pay_method=settings.sf_pay_method,
            route_label_field=settings.sf_route_label_field,
            duplicate_order_codes=frozenset(settings.sf_duplicate_order_codes),
        )
    return WaybillConfig(
        routes=dict(settings.lists.waybill_providers), kuaidi100=kuaidi100, sf=sf_config
    )


def packing_config(settings: Settings) -> PackingConfig:
    """The pack scan's carrier and sender, from the settings, in one place."""
    sender = Party(
        name=settings.sender_name,
        phone=settings.sender_phone,
        province=settings.sender_province,
        city=settings.sender_city,
        district=settings.sender_district,
        street=settings.sender_street,
        company=settings.sender_company,
    )
    return PackingConfig(settings.waybill_default_carrier.strip().lower(), sender)


def _wechat_oauth(settings: Settings, http: httpx.Client) -> WeChatOAuthClient | None:
    if not settings.wechat_appid:
        return None
    return WeChatOAuthClient(
        http,
        appid=settings.wechat_appid,
        secret=settings.wechat_app_secret,
        authorize_base_url=settings.wechat_oauth_authorize_url,
        api_base_url=settings.wechat_oauth_api_url,
    )


def _wechat_jsapi(
    settings: Settings, http: httpx.Client, database: Database | None, on_change: OnChange
) -> JsapiSigner | None:
    """wx.config signing for the 公众号's pages; needs the database the ticket is kept in."""
    if not settings.wechat_appid or database is None:
        return None
    # The token and ticket calls go to one host; named apart from the sends' breaker.
    breaker = WeChatBreaker(f"wechat-jsapi:{settings.wechat_appid}", on_change=on_change)
    tokens = wechat_tokens(settings, http, database, breaker)
    tickets = DatabaseTicketProvider(
        database,
        http,
        tokens,
        appid=settings.wechat_appid,
        base_url=settings.wechat_api_base_url,
        breaker=breaker,
    )
    return JsapiSigner(tickets, appid=settings.wechat_appid)


def build_integrations(settings: Settings, database: Database | None = None) -> Integrations:
    waybills = waybill_config(settings)  # a bad setting fails here, before any client exists
    http = httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
    # Without a database (a script) the breakers stay in this process's memory only.
    states = BreakerStateRecorder(database) if database is not None else None
    return Integrations(
        http,
        _tracking(settings, http, states),
        _notifications(settings, http, database, states),
        _refunds(settings, http),
        _ship_confirmers(settings, http),
        WaybillBookers(waybills, http, on_change=states),
        _wechat_oauth(settings, http),
        _wechat_jsapi(settings, http, database, states),
        robots(settings, http),
        breaker_states=states,
    )


def robots(settings: Settings, http: httpx.Client) -> dict[str, RobotSender]:
    """The group robots configured; a DingTalk token without its secret stops the start."""
    found: dict[str, RobotSender] = {}
    if settings.wecom_robot_key:
        found["wecom"] = WeComRobot(
            http, settings.wecom_robot_key, base_url=settings.wecom_robot_url
        )
    if settings.dingtalk_robot_token:
        if not settings.dingtalk_robot_secret:
            # Without 加签 anyone who learns the URL can post to the group; we never send so.
            raise ValueError("PORTAL_DINGTALK_ROBOT_SECRET is required with the robot token")
        found["dingtalk"] = DingTalkRobot(
            http,
            settings.dingtalk_robot_token,
            settings.dingtalk_robot_secret,
            base_url=settings.dingtalk_robot_url,
        )
    return found
