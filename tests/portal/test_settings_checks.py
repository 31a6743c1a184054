"""Settings are refused at start with one line naming the variable: names, values, lists."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import time

import pytest

from portal.settings import Settings, load_settings
from portal.settings_checks import ALLOWED_VARIABLES, LIMITS, SettingsError

KEYS = {"PORTAL_SECRET_KEYS": "test-key-0123456789abcdef0123"}


def refusal(environ: dict[str, str], **overrides: object) -> SettingsError:
    with pytest.raises(SettingsError) as refused:
        load_settings(KEYS | environ, **overrides)
    assert "\n" not in str(refused.value)
    return refused.value


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("PORTAL_THREADS", "four", "'four' is not a whole number"),
        ("PORTAL_THREADS", "0", "below 1"),
        ("PORTAL_THREADS", "2.5", "not a whole number"),
        ("PORTAL_PAGE_CACHE_SIZE", "-1", "below 0"),
        ("PORTAL_STAFF_SESSION_HOURS", "0", "below 1"),
        ("PORTAL_ADDRESS_FREE_EDIT_HOURS", "-0.5", "below 0"),
        ("PORTAL_SANDBOX_SPEED", "nan", "not a number"),
        ("PORTAL_SANDBOX_SPEED", "inf", "not a number"),
        ("PORTAL_SF_PAY_METHOD", "4", "above 3"),
        ("PORTAL_FAST_REFUND", "enabled", "is not 1/0, true/false, yes/no or on/off"),
        ("PORTAL_FAST_REFUND", "", "is not 1/0"),
        ("PORTAL_BASE_URL", "portal.example.cn", "not an http:// or https:// URL"),
        ("PORTAL_SF_URL", "ftp://sfapi.example.cn", "not an http:// or https:// URL"),
        ("PORTAL_ALIYUN_SMS_ENDPOINT", "https://", "with a host"),
        ("PORTAL_SF_URL", "", "not an http:// or https:// URL"),  # its default is not empty
        ("PORTAL_DATABASE_URL", "mysql://db/portal", "only sqlite and postgresql"),
        ("PORTAL_DATABASE_URL", "portal.db", "not a database URL"),
        ("PORTAL_DEFAULT_LOCALE", "fr", "not one of en, zh_CN"),
        ("PORTAL_SMS_TEMPLATES", "shipped", "'shipped' is not event=template"),
        ("PORTAL_SMS_TEMPLATES", "shiped=SMS_1", "'shiped' is not one of"),
        ("PORTAL_WECHAT_TEMPLATES", "delivered=", "not event=template"),
        ("PORTAL_WECHAT_MINIPROGRAM_TEMPLATES", "shipping=T1", "'shipping' is not one of"),
        ("PORTAL_WAYBILL_PROVIDERS", "shunfeng=dhl", "'shunfeng=dhl' is not carrier=kuaidi100|sf"),
        ("PORTAL_WAYBILL_PROVIDERS", "shunfneg=sf", "'shunfneg' is not one of"),
        ("PORTAL_WAYBILL_DEFAULT_CARRIER", "zto", "'zto' is not one of"),
        ("PORTAL_SF_OP_CODES", "70=failed", "'70=failed' is not opCode=status"),
        ("PORTAL_CHANNEL_SECRETS", "taobao", "'taobao' is not channel=secret"),
        ("PORTAL_CHANNEL_SECRETS", "amazon=s3cret", "'amazon' is not one of"),
        ("PORTAL_SHIP_CONFIRM_CARRIERS", "pinduoduo=115", "not platform:carrier=code"),
        ("PORTAL_SHIP_CONFIRM_CARRIERS", "pdd:zhongtong=115", "'pdd' is not one of"),
        ("PORTAL_SHIP_CONFIRM_METHODS", "tabao=taobao.logistics.consign", "'tabao' is not one"),
        ("PORTAL_WECHATPAY_PLATFORM_KEYS", "SERIAL", "'SERIAL' is not serial=path.pem"),
        ("PORTAL_TRANSFER_LEAD_DAYS", "SH-HZ=1", "expected FROM>TO=DAYS"),
        ("PORTAL_CHANNEL_COMMISSIONS", "taobao=five", "is not channel=percent"),
        ("PORTAL_CHANNEL_COMMISSIONS", "amazon=5", "no channel 'amazon'"),
        ("PORTAL_CHANNEL_PARCELS", "shopify,amazon", "'amazon' is not one of"),
        ("PORTAL_QUIET_HOURS", "22-8", "is not HH:MM-HH:MM"),
        ("PORTAL_QUIET_HOURS", "22:00", "is not HH:MM-HH:MM"),
        ("PORTAL_QUIET_HOURS", "22:00-25:00", "is not HH:MM-HH:MM"),
        ("PORTAL_WECHAT_VERIFY_FILES", "../etc/passwd=x", "is not a NAME.txt"),
        ("PORTAL_WECHAT_TEMPLATE_FIELDS", "thing3", "not keyword=value"),
        ("PORTAL_KUAIDI100_WAYBILL_ACCOUNTS", "{zhongtong:1}", "not a JSON object"),
        ("PORTAL_KUAIDI100_WAYBILL_ACCOUNTS", '{"zhongtong": 1}', "JSON object of objects"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_the_part_and_the_shape(variable, value, words):
    error = refusal({variable: value})
    assert str(error).startswith(f"{variable}: ")
    assert error.variable == variable
    assert words in str(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[("1", True), ("true", True), ("Yes", True), (" on ", True)],
        *[("0", False), ("FALSE", False), ("no", False), ("off", False)],
    ],
)
def test_a_boolean_is_read_only_from_the_words_that_mean_one(text, expected):
    assert load_settings(KEYS | {"PORTAL_FAST_REFUND": text}).fast_refund is expected


def test_a_misspelt_name_is_refused_with_the_setting_it_resembles():
    error = refusal({"PORTAL_BASE_ULR": "https://portal.example.cn"})
    assert str(error) == "PORTAL_BASE_ULR is not a setting; did you mean PORTAL_BASE_URL?"
    assert error.variable == "PORTAL_BASE_ULR"


def test_a_name_like_no_setting_is_refused_with_where_to_find_them():
    error = refusal({"PORTAL_ZZZ": "1"})
    assert str(error) == "PORTAL_ZZZ is not a setting (portal settings --env-example)"


def test_names_read_by_the_tests_and_benchmarks_are_let_through():
    allowed = {name: "x" for name in ALLOWED_VARIABLES} | {"PORTAL_BENCH_SECONDS": "5"}
    assert load_settings(KEYS | allowed).threads == 4
    assert load_settings(KEYS | {"OTHER_BASE_ULR": "x"}).threads == 4  # not ours to judge


def test_an_https_base_url_without_signing_keys_is_refused():
    with pytest.raises(SettingsError) as refused:
        load_settings({"PORTAL_BASE_URL": "https://portal.example.cn"})
    assert refused.value.variable == "PORTAL_SECRET_KEYS"
    assert str(refused.value).startswith("PORTAL_SECRET_KEYS is required with an https base URL")


def test_an_https_base_url_with_signing_keys_is_accepted():
    settings = load_settings(KEYS | {"PORTAL_BASE_URL": "https://portal.example.cn"})
    assert settings.secret_keys == (KEYS["PORTAL_SECRET_KEYS"],) and settings.cookie_secure


def test_python_overrides_are_checked_too():
    with pytest.raises(SettingsError, match="PORTAL_THREADS: 0 is below 1"):
        Settings(threads=0)
    with pytest.raises(SettingsError, match="PORTAL_THREADS: '4' is not a whole number"):
        load_settings(KEYS, threads="4")
    with pytest.raises(SettingsError, match="PORTAL_FAST_REFUND: 1 is not 1/0"):
        Settings(fast_refund=1)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="PORTAL_THREADS: True is not a whole number"):
        Settings(threads=True)
    with pytest.raises(SettingsError, match="PORTAL_SMS_TEMPLATES"):
        replace(Settings(), sms_templates="shipped")
    assert Settings(return_silent_hours=96).return_silent_hours == 96  # an int is a number


def test_the_lists_are_parsed_once_into_values_the_callers_use():
    settings = load_settings(
        KEYS
        | {
            "PORTAL_SMS_TEMPLATES": "shipped=SMS_1, delivered=SMS_2",
            "PORTAL_SF_OP_CODES": "70=failed_attempt",
            "PORTAL_SHIP_CONFIRM_CARRIERS": "pinduoduo:zhongtong=115,taobao:jtexpress=JTSD",
            "PORTAL_TRANSFER_LEAD_DAYS": "SH>HZ=1",
            "PORTAL_QUIET_HOURS": "21:30 - 07:00:30",
            "PORTAL_CHANNEL_PARCELS": "taobao,jd",
        }
    )
    lists = settings.lists
    assert lists.sms_templates == {"shipped": "SMS_1", "delivered": "SMS_2"}
    assert lists.sf_op_codes == {"70": "failed_attempt"}
    assert lists.ship_confirm_carriers == {
        "pinduoduo": {"zhongtong": "115"},
        "taobao": {"jtexpress": "JTSD"},
    }
    assert lists.transfer_lead_days == {("SH", "HZ"): 1}
    assert lists.quiet_hours == (time(21, 30), time(7, 0, 30))
    assert settings.rules.intake.parcel_channels == frozenset({"taobao", "jd"})
    assert settings.rules.notices.sms_templates == lists.sms_templates
    assert settings.lists is lists  # cached on the settings


def test_the_defaults_pass_every_check():
    settings = load_settings(KEYS)
    assert settings.lists.waybill_providers["shunfeng"] == "sf"
    assert settings.lists.wechat_template_fields  # empty text: the default layout
    assert settings.lists.channel_commissions["jd"] == 800


def test_every_limit_names_a_number_setting():
    numbers = {spec.name for spec in fields(Settings) if spec.type in ("int", "float")}
    assert set(LIMITS) <= numbers


@pytest.mark.parametrize(
    ("url", "given", "inline"),
    [
        ("sqlite:///portal.db", None, True),
        ("postgresql://portal@db/portal", None, False),
        ("postgresql://portal@db/portal", "1", True),
        ("sqlite:///portal.db", "0", False),
    ],
)
def test_inline_reads_follow_the_database_unless_set(url, given, inline, tmp_path):
    environ = {"PORTAL_DATABASE_URL": url, "PORTAL_SECRET_KEYS": "k" * 32}
    if given is not None:
        environ["PORTAL_INLINE_READS"] = given
    assert load_settings(environ).inline_reads is inline
