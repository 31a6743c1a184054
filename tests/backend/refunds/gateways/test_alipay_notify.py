"""Alipay's trade_status_sync notify: verification, app check and parsing, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.refunds.gateways import alipay_notify as notify
from backend.refunds.gateways.base import NotifyRejected, RefundStatus, sign_sha256_rsa

ALIPAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APP_ID = "2021000000000001"

# The fields a partial refund's notify carries (values fake, names per Alipay's notify page).
REFUND_NOTIFY = {
    "notify_time": "2024-05-02 10:00:02",
    "notify_type": "trade_status_sync",
    "notify_id": "2024050200222100002000001234567890",
    "app_id": APP_ID,
    "charset": "utf-8",
    "version": "1.0",
    "sign_type": "RSA2",
    "trade_no": "2024050122001400001234567890",
    "out_trade_no": "ORD20240501001",
    "out_biz_no": "RFORD20240501001-7",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "256.00",
    "refund_fee": "20.50",
    "gmt_refund": "2024-05-02 10:00:01.372",
    "subject": "西湖龙井 250g",
}


def signed(params: dict[str, str], key: rsa.RSAPrivateKey = ALIPAY_KEY) -> dict[str, str]:
    content = "&".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type") and v
    )
    return params | {"sign": sign_sha256_rsa(key, content.encode())}


def read(params: dict[str, str]) -> notify.TradeNotice:
    return notify.read_refund_notify(
        params, alipay_public_key=ALIPAY_KEY.public_key(), app_id=APP_ID
    )


def test_a_refund_notify_reads_as_that_refunds_success() -> None:
    notice = read(signed(REFUND_NOTIFY))

    assert (notice.notify_id, notice.trade_status) == (REFUND_NOTIFY["notify_id"], "TRADE_SUCCESS")
    refund = notice.refund
    assert refund is not None
    assert (refund.gateway, refund.out_refund_no, refund.status) == (
        "alipay",
        "RFORD20240501001-7",
        RefundStatus.SUCCESS,
    )
    assert refund.amount_fen is None  # the notify names only the trade's total
    assert refund.refunded_total_fen == 2_050
    assert refund.success_time == datetime(2024, 5, 2, 2, 0, 1, tzinfo=UTC)
    assert refund.payment_reference == "ORD20240501001"
    assert refund.raw_status == "notify:TRADE_SUCCESS"


def test_the_trades_own_payment_notify_is_about_no_refund() -> None:
    payment = {k: v for k, v in REFUND_NOTIFY.items() if k not in ("out_biz_no", "refund_fee")}
    assert read(signed(payment)).refund is None


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p: signed(p, OTHER_KEY), id="signed-by-another-key"),
        pytest.param(lambda p: signed(p) | {"refund_fee": "256.00"}, id="changed-after-signing"),
        pytest.param(lambda p: {k: v for k, v in signed(p).items() if k != "sign"}, id="unsigned"),
        pytest.param(lambda p: signed(p | {"app_id": "2021000000000999"}), id="another-app"),
        pytest.param(lambda p: signed(p | {"charset": "gbk"}), id="not-utf-8"),
        pytest.param(lambda p: signed(p | {"refund_fee": "twenty"}), id="malformed-amount"),
        pytest.param(lambda p: signed(p | {"notify_id": ""}), id="no-notify-id"),
    ],
)
def test_a_notify_that_fails_a_check_is_refused(forge) -> None:
    with pytest.raises(NotifyRejected):
        read(forge(dict(REFUND_NOTIFY)))


def test_sign_type_is_left_out_of_the_signed_content() -> None:
    params = signed(REFUND_NOTIFY)
    assert notify.verify_notify_params(params | {"sign_type": "RSA"}, ALIPAY_KEY.public_key())
