"""One frozen Settings object, read from PORTAL_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from backend import personal_data
from backend.exchanges.rules import ExchangeRules
from backend.notifications.outbox import NoticeRules
from backend.operations import OperationsRules
from backend.orders.address_policy import AddressRules
from backend.orders.allocation import LeadTimes
from backend.orders.intake import IntakeRules
from backend.orders.shops import ShopDirectory, default_shops, load_shops_file
from backend.personal_data import DEVELOPMENT_RING, Keyring, parse_keyring
from backend.profit import ProfitRules
from backend.refunds.rules import RefundRules
from portal.settings_checks import (
    SettingsError,
    check_value,
    coerce,
    refuse_unknown_variables,
)
from portal.settings_lists import CARRIERS, ParsedLists, parse_lists

VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", Path.cwd() / "var"))


def _help(text: str, shown: str = "") -> dict[str, str]:
    """`shown`: the default as the README and .env.example give it, when not the value."""
    return {"help": text, "shown": shown} if shown else {"help": text}


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default=f"sqlite:///{VAR_DIR / 'portal.db'}",
        metadata=_help("SQLAlchemy URL; sqlite:///path (default) or postgresql://user@host/db"),
    )
    secret_keys: tuple[str, ...] = field(
        default=(),
        metadata=_help(
            "Comma-separated signing keys, newest last; older ones still verify. "
            "Unset: a random key is kept in var/secret.key (refused with https)",
            shown="(var/secret.key)",
        ),
    )
    data_keys: tuple[str, ...] = field(
        default=(),
        metadata=_help(
            "Keys sealing phones and streets at rest, id:base64-32-bytes, comma-separated, "
            "the one in use first. Unset: a public development key (refused with https)",
            shown="(public development key)",
        ),
    )
    blind_index_key: str = field(
        default="",
        metadata=_help("base64 key (16+ bytes) for the phone blind index; with PORTAL_DATA_KEYS"),
    )
    base_url: str = field(
        default="http://127.0.0.1:8000",
        metadata=_help(
            "Public URL customers reach; used in SMS and WeChat links. "
            "https:// turns on Secure cookies"
        ),
    )
    link_max_age_days: int = field(default=30, metadata=_help("Lifetime of signed WeChat/H5 links"))
    short_link_days: int = field(default=30, metadata=_help("Lifetime of SMS short codes (/t/...)"))
    customer_session_hours: int = field(
        default=24 * 7, metadata=_help("How long a customer stays signed in after a link or lookup")
    )
    staff_session_hours: int = field(default=12, metadata=_help("Staff login lifetime"))
    staff_second_factor_required: bool = field(
        default=True,
        metadata=_help(
            "Admin, finance and supervisor must enrol a TOTP second factor before any staff"
            " page (off only in tests that are about something else)"
        ),
    )
    goodwill_limit_fen: int = field(
        default=5000,
        metadata=_help(
            "Goodwill refunds (补偿) up to this many fen are paid at once; "
            "above it finance approves"
        ),
    )
    tracking_refresh_seconds: int = field(
        default=20, metadata=_help("How often an open tracking page asks for new events")
    )
    rules_refresh_seconds: int = field(
        default=30,
        metadata=_help(
            "How often each process reads the rules saved on the rules page again "
            "(a change is in force everywhere within this time)"
        ),
    )
    embedded_worker: bool = field(
        default=False,
        metadata=_help("Run the background worker inside the web process", shown="on with SQLite"),
    )
    web_workers: int = field(
        default=1,
        metadata=_help(
            "Web processes portal serve starts (portal serve --workers); above 1 the embedded "
            "worker and the demo emulators run once, in the supervising process"
        ),
    )
    worker_name: str = field(
        default="",
        metadata=_help(
            "This worker's name, stable across its restarts and its own on this host "
            "(portal worker --name); empty: worker, or embedded inside portal serve"
        ),
    )
    job_retention_days: int = field(
        default=7,
        metadata=_help("Days finished jobs are kept before they are pruned; dead ones stay"),
    )
    auto_complete_days: int = field(
        default=7,
        metadata=_help("Days after delivery an order completes by itself if not confirmed"),
    )
    sandbox_speed: float = field(
        default=60.0,
        metadata=_help("Demo carrier time compression (60: an hour passes in a minute)"),
    )
    inline_reads: bool = field(
        default=True,
        metadata=_help(
            "Run short read queries on the event loop instead of the thread pool; unset: on "
            "with SQLite, off with PostgreSQL, where they lost in every run (README, Performance)",
            shown="on with SQLite",
        ),
    )
    fast_refund: bool = field(
        default=True,
        metadata=_help("极速退款: pay small auto-approved refunds once the carrier has the return"),
    )
    return_address: str = field(
        default="浙江省杭州市西湖区文三路100号 售后仓 0571-88880000",
        metadata=_help("Where customers send returns (shown on the refund page)"),
    )
    export_dir: str = field(
        default=str(VAR_DIR / "exports"),
        metadata=_help("Channel order exports (<channel>/<YYYY-MM-DD>.csv) reconciled daily"),
    )
    photo_dir: str = field(
        default=str(VAR_DIR / "photos"),
        metadata=_help("Where return photos are kept (outside the static root)"),
    )
    page_cache_size: int = field(
        default=2048,
        metadata=_help("Rendered tracking pages kept in memory per process; 0 renders every time"),
    )
    threads: int = field(default=4, metadata=_help("Thread pool size for writes and slow calls"))
    default_locale: str = field(default="zh_CN", metadata=_help("zh_CN or en"))
    address_free_edit_hours: float = field(
        default=2.0, metadata=_help("Hours after payment a customer may change the address freely")
    )
    address_max_customer_edits: int = field(
        default=3, metadata=_help("Address changes a customer may make on one order")
    )
    address_auto_approve_hours: float = field(
        default=4.0, metadata=_help("Unanswered address requests are approved after this long")
    )
    return_silent_hours: float = field(
        default=72.0,
        metadata=_help("A return parcel with no tracking update this long goes to staff to check"),
    )
    kuaidi100_customer: str = field(default="", metadata=_help("Kuaidi100 customer id"))
    kuaidi100_key: str = field(default="", metadata=_help("Kuaidi100 key; empty disables it"))
    kuaidi100_secret: str = field(default="", metadata=_help("Kuaidi100 secret (intercept API)"))
    kuaidi100_salt: str = field(
        default="", metadata=_help("Salt Kuaidi100 signs pushes with; pushes are refused without")
    )
    kuaidi100_poll_url: str = field(
        default="https://poll.kuaidi100.com", metadata=_help("Kuaidi100 query/subscribe base URL")
    )
    kuaidi100_api_url: str = field(
        default="https://api.kuaidi100.com", metadata=_help("Kuaidi100 label/intercept base URL")
    )
    sf_partner_id: str = field(default="", metadata=_help("SF Express partner id (route query)"))
    sf_check_word: str = field(default="", metadata=_help("SF Express check word"))
    sf_url: str = field(
        default="https://sfapi-sbox.sf-express.com/std/service",
        metadata=_help("SF Express gateway URL"),
    )
    sf_push_token: str = field(
        default="", metadata=_help("Secret path segment of /webhooks/sf/<token>; empty: refused")
    )
    sf_op_codes: str = field(
        default="",
        metadata=_help("SF opCode overrides, e.g. 70=failed_attempt,607=available_for_pickup"),
    )
    waybill_providers: str = field(
        default=(
            "shunfeng=sf,zhongtong=kuaidi100,yuantong=kuaidi100,yunda=kuaidi100,"
            "shentong=kuaidi100,jtexpress=kuaidi100"
        ),
        metadata=_help(
            "carrier=kuaidi100|sf pairs: who books each carrier's e-waybills (电子面单)"
        ),
    )
    waybill_default_carrier: str = field(
        default="zhongtong",
        metadata=_help("Carrier the pack scan books a parcel with unless the packer picks another"),
    )
    sender_name: str = field(
        default="", metadata=_help("Sender on booked labels: contact name at the warehouse")
    )
    sender_phone: str = field(default="", metadata=_help("Sender on booked labels: phone"))
    sender_company: str = field(default="", metadata=_help("Sender on booked labels: company"))
    sender_province: str = field(default="", metadata=_help("Sender on booked labels: province"))
    sender_city: str = field(default="", metadata=_help("Sender on booked labels: city"))
    sender_district: str = field(default="", metadata=_help("Sender on booked labels: district"))
    sender_street: str = field(
        default="", metadata=_help("Sender on booked labels: street and number")
    )
    kuaidi100_waybill_accounts: str = field(
        default="",
        metadata=_help(
            "JSON per carrier of the e-waybill fields sent with each order, e.g. "
            '{"zhongtong":{"partnerId":"...","partnerKey":"...","tempId":"..."}}'
        ),
    )
    kuaidi100_waybill_print_type: str = field(
        default="IMAGE",
        metadata=_help("Kuaidi100 printType: IMAGE (label link), CLOUD (云打印机), NON, ..."),
    )
    kuaidi100_printer_siid: str = field(
        default="", metadata=_help("Kuaidi100 cloud printer device code (siid) for CLOUD printing")
    )
    kuaidi100_waybill_subscribe: bool = field(
        default=False,
        metadata=_help("Ask Kuaidi100 to subscribe each booked waybill to tracking pushes"),
    )
    kuaidi100_autonumber_url: str = field(
        default="https://www.kuaidi100.com/autonumber/auto",
        metadata=_help("Kuaidi100 智能单号识别 (carrier from a number) URL"),
    )
    sf_monthly_card: str = field(
        default="", metadata=_help("SF 月结卡号 booked waybills are billed to; empty: none sent")
    )
    sf_waybill_template: str = field(
        default="fm_150_standard_{partner_id}",
        metadata=_help("SF cloud-print template code; {partner_id} is filled in"),
    )
    sf_express_type_id: int = field(
        default=2, metadata=_help("SF expressTypeId (product) for booked waybills, e.g. 2 标快")
    )
    sf_pay_method: int = field(
        default=1, metadata=_help("SF payMethod: 1 sender pays, 2 recipient, 3 third party")
    )
    sf_route_label_field: str = field(
        default="isReturnRoutelabel",
        metadata=_help("Spelling of SF's return-route-label flag (sources disagree)"),
    )
    sf_duplicate_order_codes: tuple[str, ...] = field(
        default=("8016",),
        metadata=_help("SF error codes meaning 'orderId already booked' (then looked up)"),
    )
    tracking_poll_carriers: tuple[str, ...] = field(
        default=(), metadata=_help("Carrier codes queried every 30 min instead of subscribed")
    )
    aliyun_sms_access_key_id: str = field(default="", metadata=_help("Aliyun SMS AccessKey id"))
    aliyun_sms_access_key_secret: str = field(default="", metadata=_help("Aliyun SMS secret"))
    aliyun_sms_sign_name: str = field(default="", metadata=_help("Aliyun SMS signature name"))
    aliyun_sms_endpoint: str = field(
        default="https://dysmsapi.aliyuncs.com", metadata=_help("Aliyun SMS endpoint")
    )
    sms_templates: str = field(
        default="", metadata=_help("event=TemplateCode pairs: shipped=SMS_1,delivered=SMS_2,...")
    )
    wechat_appid: str = field(default="", metadata=_help("WeChat app id; empty disables WeChat"))
    wechat_app_secret: str = field(default="", metadata=_help("WeChat app secret"))
    wechat_api_base_url: str = field(
        default="https://api.weixin.qq.com", metadata=_help("WeChat API base URL")
    )
    wechat_oauth_authorize_url: str = field(
        default="https://open.weixin.qq.com",
        metadata=_help("WeChat web OAuth authorize host (公众号 snsapi_base, links the openid)"),
    )
    wechat_oauth_api_url: str = field(
        default="https://api.weixin.qq.com",
        metadata=_help("WeChat API host for the OAuth code exchange (sns/oauth2/access_token)"),
    )
    wechat_oauth_retry_hours: int = field(
        default=24,
        metadata=_help("After a WeChat OAuth attempt, hours before a page in WeChat tries again"),
    )
    wechat_templates: str = field(
        default="",
        metadata=_help("Official account event=template_id pairs (one-time subscribe, bizsend)"),
    )
    wechat_template_fields: str = field(
        default="",
        metadata=_help(
            "keyword=value pairs filling the WeChat templates, e.g. character_string1=order,"
            "phrase2=status,thing3=detail,time4=time (empty: that layout)"
        ),
    )
    notify_both_channels: bool = field(
        default=False,
        metadata=_help("Send the SMS as well when a transition goes by WeChat (default: one)"),
    )
    wechat_miniprogram_appid: str = field(
        default="",
        metadata=_help(
            "WeChat mini-program app id (login, subscribe messages); empty disables "
            "/api/miniprogram/"
        ),
    )
    wechat_miniprogram_secret: str = field(
        default="", metadata=_help("WeChat mini-program app secret (code2Session, its token)")
    )
    wechat_miniprogram_templates: str = field(
        default="", metadata=_help("event=template_id pairs of the mini-program's templates")
    )
    wechat_miniprogram_session_minutes: int = field(
        default=120, metadata=_help("Lifetime of the mini-program's bearer token, in minutes")
    )
    wechat_push_token: str = field(
        default="",
        metadata=_help(
            "Token of the 公众号 server push (/webhooks/wechat/official, plaintext mode); "
            "empty disables the endpoint"
        ),
    )
    quiet_hours: str = field(
        default="22:00-08:00", metadata=_help("No customer messages in this window (Shanghai)")
    )
    wechatpay_mchid: str = field(
        default="", metadata=_help("WeChat Pay merchant id; empty disables it")
    )
    wechatpay_serial_no: str = field(default="", metadata=_help("Serial of our API certificate"))
    wechatpay_private_key_file: str = field(
        default="", metadata=_help("Our API private key (PEM file)")
    )
    wechatpay_platform_keys: str = field(
        default="", metadata=_help("serial=path.pem pairs of WeChat Pay platform public keys")
    )
    wechatpay_api_v3_key: str = field(default="", metadata=_help("APIv3 key (notify decryption)"))
    wechatpay_base_url: str = field(
        default="https://api.mch.weixin.qq.com", metadata=_help("WeChat Pay API base URL")
    )
    alipay_app_id: str = field(default="", metadata=_help("Alipay app id; empty disables it"))
    alipay_private_key_file: str = field(default="", metadata=_help("Our app private key (PEM)"))
    alipay_public_key_file: str = field(default="", metadata=_help("Alipay's public key (PEM)"))
    alipay_gateway_url: str = field(
        default="https://openapi.alipay.com/gateway.do", metadata=_help("Alipay gateway URL")
    )
    shopify_webhook_secret: str = field(
        default="", metadata=_help("Shopify app secret for X-Shopify-Hmac-Sha256; empty: refused")
    )
    channel_secrets: str = field(
        default="",
        metadata=_help("channel=secret pairs for taobao, tmall, jd, pinduoduo, douyin pushes"),
    )
    erp_secret: str = field(
        default="",
        metadata=_help("Shared secret for ERP/WMS waybill pushes (HMAC-SHA256); empty: 404"),
    )
    channel_parcels: str = field(
        default="shopify,taobao,tmall,jd,pinduoduo,douyin",
        metadata=_help("Channels whose order updates' waybills are recorded as parcels"),
    )
    shops_file: str = field(
        default="",
        metadata=_help(
            "TOML or JSON file listing the shops (code, channel, secrets, API URL; README, "
            "Shops); empty: one default shop per channel from the two settings above"
        ),
    )
    ship_confirm_carriers: str = field(
        default="",
        metadata=_help(
            "Carrier code overrides for ship confirmation, platform:kuaidi100=code pairs, "
            "e.g. pinduoduo:zhongtong=115,taobao:jtexpress=JTSD"
        ),
    )
    ship_confirm_methods: str = field(
        default="",
        metadata=_help(
            "API method overrides for ship confirmation, e.g. taobao=taobao.logistics.consign"
        ),
    )
    high_value_order_yuan: int = field(
        default=5000, metadata=_help("Orders above this need a second reviewer")
    )
    transfer_lead_days: str = field(
        default="",
        metadata=_help(
            "Days a transfer (调拨) takes per warehouse pair, FROM>TO=DAYS,... "
            "(unlisted pairs: 1 day in the same region, 3 otherwise)"
        ),
    )
    transfer_max_days: int = field(
        default=1,
        metadata=_help("A short line is proposed as a transfer only if it arrives within this"),
    )
    wechat_verify_files: str = field(
        default="",
        metadata=_help(
            "WeChat domain check files served at the site root, NAME.txt=CONTENT,... "
            "(MP_verify_*.txt, the mini-program's business-domain file)"
        ),
    )
    channel_commissions: str = field(
        default="taobao=5,tmall=5,jd=8,pinduoduo=3,douyin=5,wechat=1",
        metadata=_help("Commission per channel in percent, for profit figures: taobao=5,jd=8,..."),
    )
    shipping_cost_fen: int = field(
        default=800, metadata=_help("What one outbound parcel costs, in fen, for profit figures")
    )
    wecom_robot_key: str = field(
        default="",
        metadata=_help("WeCom (企业微信) group robot webhook key for staff alerts; empty: none"),
    )
    wecom_robot_url: str = field(
        default="https://qyapi.weixin.qq.com", metadata=_help("WeCom group robot API base URL")
    )
    dingtalk_robot_token: str = field(
        default="",
        metadata=_help("DingTalk (钉钉) custom robot access_token for staff alerts; empty: none"),
    )
    dingtalk_robot_secret: str = field(
        default="", metadata=_help("DingTalk robot 加签 secret (SEC...); required with the token")
    )
    dingtalk_robot_url: str = field(
        default="https://oapi.dingtalk.com", metadata=_help("DingTalk robot API base URL")
    )
    demo_emulators: bool = field(
        default=False,
        metadata=_help("Serve loopback carrier/SMS emulators and wire the app to them (make run)"),
    )
    demo_emulator_log: bool = field(
        default=False,
        metadata=_help("Log the demo emulators' access lines too (off: only the app's own log)"),
    )
    metrics_token: str = field(
        default="",
        metadata=_help("Bearer token Prometheus scrapes /metrics with; empty: /metrics is a 404"),
    )
    log_format: str = field(
        default="console",
        metadata=_help("console (human-readable lines) or json (one JSON object per line)"),
    )

    def __post_init__(self) -> None:
        """Every value checked, and every list parsed, once: a bad one stops the start."""
        for spec in fields(self):
            check_value(spec, getattr(self, spec.name))
        carrier = self.waybill_default_carrier.strip().lower()
        if carrier not in CARRIERS:
            raise SettingsError(
                "PORTAL_WAYBILL_DEFAULT_CARRIER",
                f"{carrier!r} is not one of {', '.join(sorted(CARRIERS))}",
            )
        self.lists  # noqa: B018 -- parsed now, so a malformed list refuses the start

    @cached_property
    def lists(self) -> ParsedLists:
        """The name=value lists and windows as values, for every caller to use as they are."""
        return parse_lists(self)

    @cached_property
    def rules(self) -> Rules:
        """Built once per Settings: the app, its routes and the worker all use this one."""
        return build_rules(self)

    @cached_property
    def shops(self) -> ShopDirectory:
        """Loaded once per Settings; a broken shops file stops the start (ShopsFileInvalid)."""
        if self.shops_file:
            return load_shops_file(self.shops_file)
        return default_shops(self.shopify_webhook_secret, self.lists.channel_secrets)

    @property
    def verify_files(self) -> Mapping[str, str]:
        """The check files by name (each a plain NAME.txt, checked when Settings was made)."""
        return self.lists.wechat_verify_files

    @cached_property
    def keyring(self) -> Keyring:
        """The personal-data keys; the public development ring only where nothing is at stake."""
        if not self.data_keys and not self.blind_index_key:
            if self.cookie_secure:
                raise SettingsError(
                    "PORTAL_DATA_KEYS",
                    "PORTAL_DATA_KEYS and PORTAL_BLIND_INDEX_KEY are required with an https "
                    "base URL: the development keys are public",
                )
            return DEVELOPMENT_RING
        return parse_keyring(self.data_keys, self.blind_index_key)

    def install_keyring(self) -> None:
        """Every process calls this once at start, before it reads or writes a customer."""
        personal_data.install(self.keyring)

    @property
    def cookie_secure(self) -> bool:
        return self.base_url.startswith("https://")


@dataclass(frozen=True)
class Rules:
    """The rule sets in force, made from the settings in one place (build_rules)."""

    intake: IntakeRules
    refunds: RefundRules
    addresses: AddressRules
    exchanges: ExchangeRules
    profit: ProfitRules
    notices: NoticeRules
    operations: OperationsRules


def build_rules(settings: Settings) -> Rules:
    return Rules(
        intake=IntakeRules(
            high_value_fen=settings.high_value_order_yuan * 100,
            parcel_channels=settings.lists.channel_parcels,
            lead_times=LeadTimes(
                overrides=dict(settings.lists.transfer_lead_days),
                max_days=settings.transfer_max_days,
            ),
        ),
        refunds=RefundRules(
            return_silent_after=timedelta(hours=settings.return_silent_hours),
            return_address=settings.return_address,
        ),
        addresses=AddressRules(
            free_edit_window=timedelta(hours=settings.address_free_edit_hours),
            max_customer_edits=settings.address_max_customer_edits,
            auto_approve_after=timedelta(hours=settings.address_auto_approve_hours),
        ),
        exchanges=ExchangeRules(),
        profit=ProfitRules(
            commission_bp=settings.lists.channel_commissions,
            shipping_fen_per_parcel=settings.shipping_cost_fen,
        ),
        notices=NoticeRules(
            quiet_hours=settings.lists.quiet_hours,
            sms_templates=settings.lists.sms_templates,
            wechat_templates=settings.lists.wechat_templates,
            wechat_appid=settings.wechat_appid,
            miniprogram_templates=settings.lists.miniprogram_templates,
            miniprogram_appid=settings.wechat_miniprogram_appid,
        ),
        operations=OperationsRules(),
    )


def _local_secret() -> str:
    """A development key that survives restarts, so demo links keep working."""
    path = VAR_DIR / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: of processes starting at once (a web
        # process and a worker), the first link wins and every one reads that key.
        candidate = path.with_name(f".secret.key.{os.getpid()}")
        candidate.write_text(secrets.token_urlsafe(48))
        candidate.chmod(0o600)
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_text().strip()


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """The settings from PORTAL_* variables (and Python overrides); SettingsError if refused."""
    environ = dict(os.environ if environ is None else environ)
    refuse_unknown_variables(environ, (spec.name for spec in fields(Settings)))
    values: dict[str, object] = {}
    for spec in fields(Settings):
        raw = environ.get(f"PORTAL_{spec.name.upper()}")
        if raw is not None:
            values[spec.name] = coerce(spec, raw)
    values.update(overrides)
    if not values.get("secret_keys"):
        if str(values.get("base_url", Settings.base_url)).startswith("https://"):
            raise SettingsError(
                "PORTAL_SECRET_KEYS",
                "PORTAL_SECRET_KEYS is required with an https base URL: a key made on this "
                "machine (var/secret.key) breaks every link another machine signed",
            )
        values["secret_keys"] = (_local_secret(),)
    url = str(values.get("database_url", Settings.database_url))
    for name in ("embedded_worker", "inline_reads"):
        if name not in values:
            values[name] = url.startswith("sqlite")
    return Settings(**values)  # type: ignore[arg-type]


def settings_environment(settings: Settings) -> dict[str, str]:
    """The PORTAL_* variables that make `load_settings` rebuild these settings exactly.

    How a process started by another (a web process under `portal serve --workers`) gets
    what its parent decided on top of the environment: the command line's options, the
    demo's emulator addresses, a generated secret key.
    """

    def spelled(value: object) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, tuple):
            return ",".join(value)
        return str(value)

    return {
        f"PORTAL_{spec.name.upper()}": spelled(getattr(settings, spec.name))
        for spec in fields(Settings)
    }


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) rows: the README's configuration table is made from this."""
    return [
        (f"PORTAL_{spec.name.upper()}", str(spec.default), spec.metadata.get("help", ""))
        for spec in fields(Settings)
    ]


def shown_default(spec: Field[object]) -> str:
    """The default as a person reads it: var/ for this machine's directory, (empty), 8016."""
    if spec.metadata.get("shown"):
        return str(spec.metadata["shown"])
    value = spec.default
    text = ",".join(value) if isinstance(value, tuple) else str(value)
    return text.replace(str(VAR_DIR), "var") or "(empty)"
