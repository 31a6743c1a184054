"""Both refund clients against the payments emulator served for real on loopback (no mocks)."""

from __future__ import annotations

import pytest

from backend.refunds.gateways.alipay import AlipayClient
from backend.refunds.gateways.base import (
    GatewayRejected,
    GatewayUnavailable,
    RefundExceedsPayment,
    RefundNotFound,
    RefundStatus,
    ResponseNotTrusted,
    load_public_key,
)
from backend.refunds.gateways.wechatpay import WeChatPayClient
from emulators.payments import PaymentsEmulator
from tests.backend.refunds.gateways.conftest import NotifyInbox

S = RefundStatus


def test_wechat_refund_is_processing_then_success_with_one_signed_notify(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1001", 12_800, received_account="招商银行信用卡0403")

    applied = wechat.refund("PAY-1001", "RF-1001-1", 2_000, 12_800, "七天无理由退货")

    assert applied.status is S.PROCESSING
    assert (applied.amount_fen, applied.payment_reference) == (2_000, "PAY-1001")
    assert applied.received_account == "招商银行信用卡0403"
    headers, body = inbox[0].wait_for(1)[0]
    notice = wechat.read_notify(headers, body)
    assert notice.event_type == "REFUND.SUCCESS"
    assert notice.refund.status is S.SUCCESS
    assert notice.refund.gateway_refund_id == applied.gateway_refund_id
    assert notice.refund.success_time is not None
    queried = wechat.query("RF-1001-1", "PAY-1001")
    assert queried.status is S.SUCCESS and queried.success_time == notice.refund.success_time
    assert gateway.refunded_fen("PAY-1001") == 2_000


def test_wechat_timeout_after_processing_then_retry_with_same_key_refunds_once(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1002", 5_000)
    gateway.faults.hang_next = 1

    with pytest.raises(GatewayUnavailable):
        wechat.refund("PAY-1002", "RF-1002-1", 5_000, 5_000, "缺货")
    assert gateway.refunded_fen("PAY-1002") == 5_000  # made, though we never heard

    retried = wechat.refund("PAY-1002", "RF-1002-1", 5_000, 5_000, "缺货")

    assert retried.out_refund_no == "RF-1002-1" and retried.amount_fen == 5_000
    assert len(gateway.refunds_of("PAY-1002")) == 1
    assert gateway.refunded_fen("PAY-1002") == 5_000


def test_wechat_500_then_success_refunds_once(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1003", 9_900)
    gateway.faults.fail_next = 1

    with pytest.raises(GatewayUnavailable) as failure:
        wechat.refund("PAY-1003", "RF-1003-1", 900, 9_900, "")
    assert failure.value.code == "SYSTEM_ERROR"
    assert gateway.refunds_of("PAY-1003") == []

    applied = wechat.refund("PAY-1003", "RF-1003-1", 900, 9_900, "")

    assert applied.status is S.PROCESSING
    assert gateway.refunded_fen("PAY-1003") == 900


def test_wechat_duplicate_notify_is_parsed_identically(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1004", 3_000)
    gateway.faults.duplicate_notify = True

    wechat.refund("PAY-1004", "RF-1004-1", 3_000, 3_000, "")

    (first_headers, first), (second_headers, second) = inbox[0].wait_for(2)
    assert first_headers["wechatpay-nonce"] != second_headers["wechatpay-nonce"]
    assert wechat.read_notify(first_headers, first) == wechat.read_notify(second_headers, second)


def test_wechat_notify_may_arrive_before_the_apply_answer(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str], inbox: tuple[NotifyInbox, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1005", 3_000)
    gateway.faults.notify_before_response = True

    applied = wechat.refund("PAY-1005", "RF-1005-1", 1_000, 3_000, "")

    # The notify is already in when the (older) PROCESSING answer arrives: the service
    # must never move a refund back from SUCCESS.
    headers, body = inbox[0].deliveries[0]
    assert wechat.read_notify(headers, body).refund.status is S.SUCCESS
    assert applied.status is S.PROCESSING


def test_wechat_refunds_beyond_the_payment_are_rejected_and_nothing_moves(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1006", 10_000)
    wechat.refund("PAY-1006", "RF-1006-1", 6_000, 10_000, "")

    with pytest.raises(GatewayRejected) as rejection:
        wechat.refund("PAY-1006", "RF-1006-2", 4_001, 10_000, "")

    assert rejection.value.code == "INVALID_REQUEST"
    assert gateway.refunded_fen("PAY-1006") == 6_000


def test_wechat_keys_with_every_allowed_character_survive_signing_and_the_path(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    emulator[0].seed_payment("PAY-1008", 1_000)
    key = "RF-1008|a*b@c_d"

    wechat.refund("PAY-1008", key, 1_000, 1_000, "")

    assert wechat.query(key, "PAY-1008").out_refund_no == key


def test_wechat_query_of_an_unknown_key_is_refund_not_found(wechat: WeChatPayClient) -> None:
    with pytest.raises(RefundNotFound):
        wechat.query("RF-NEVER-SENT", "PAY-0")


def test_wechat_answer_signed_by_another_key_is_not_trusted(
    wechat: WeChatPayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-1007", 1_000)
    impostor = PaymentsEmulator().platform_key.public_key()
    wechat.platform_keys = {gateway.platform_serial: impostor}

    with pytest.raises(ResponseNotTrusted):
        wechat.refund("PAY-1007", "RF-1007-1", 1_000, 1_000, "")


def test_alipay_refund_succeeds_and_the_query_confirms(
    alipay: AlipayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    payment = gateway.seed_payment("PAY-2001", 12_345)

    refunded = alipay.refund("PAY-2001", "RQ-2001-1", 1_234, 12_345, "尺码不合适")

    assert refunded.status is S.SUCCESS and refunded.funds_moved is True
    assert refunded.gateway_payment_id == payment.trade_no
    assert (refunded.amount_fen, refunded.refunded_total_fen) == (1_234, 1_234)
    queried = alipay.query("RQ-2001-1", "PAY-2001")
    assert queried.status is S.SUCCESS and queried.amount_fen == 1_234


def test_alipay_timeout_after_processing_then_retry_is_a_replay_not_a_second_refund(
    alipay: AlipayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-2002", 8_000)
    gateway.faults.hang_next = 1

    with pytest.raises(GatewayUnavailable):
        alipay.refund("PAY-2002", "RQ-2002-1", 8_000, 8_000, "")
    replayed = alipay.refund("PAY-2002", "RQ-2002-1", 8_000, 8_000, "")

    # fund_change N on the replay is not a failure: PROCESSING until the query confirms.
    assert replayed.funds_moved is False and replayed.status is S.PROCESSING
    assert alipay.query("RQ-2002-1", "PAY-2002").status is S.SUCCESS
    assert gateway.refunded_fen("PAY-2002") == 8_000
    assert len(gateway.refunds_of("PAY-2002")) == 1


def test_alipay_500_then_success_refunds_once(
    alipay: AlipayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-2003", 500)
    gateway.faults.fail_next = 1

    with pytest.raises(GatewayUnavailable) as failure:
        alipay.refund("PAY-2003", "RQ-2003-1", 1, 500, "")
    assert failure.value.status_code == 500

    assert alipay.refund("PAY-2003", "RQ-2003-1", 1, 500, "").status is S.SUCCESS
    assert gateway.refunded_fen("PAY-2003") == 1


def test_alipay_partial_refunds_beyond_the_payment_are_rejected(
    alipay: AlipayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-2004", 10_000)
    first = alipay.refund("PAY-2004", "RQ-2004-1", 7_000, 10_000, "")
    second = alipay.refund("PAY-2004", "RQ-2004-2", 2_000, 10_000, "")
    assert (first.refunded_total_fen, second.refunded_total_fen) == (7_000, 9_000)

    with pytest.raises(RefundExceedsPayment) as rejection:
        alipay.refund("PAY-2004", "RQ-2004-3", 1_001, 10_000, "")

    assert rejection.value.code == "ACQ.REASON_TRADE_REFUND_FEE_ERR"
    assert gateway.refunded_fen("PAY-2004") == 9_000


def test_alipay_query_of_an_unknown_request_is_refund_not_found(
    alipay: AlipayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    emulator[0].seed_payment("PAY-2005", 1_000)

    with pytest.raises(RefundNotFound):
        alipay.query("RQ-NEVER-SENT", "PAY-2005")


def test_alipay_request_signed_with_the_wrong_key_is_rejected(
    alipay: AlipayClient, emulator: tuple[PaymentsEmulator, str]
) -> None:
    gateway, _ = emulator
    gateway.seed_payment("PAY-2006", 1_000)
    alipay.private_key = PaymentsEmulator().alipay_key

    with pytest.raises(GatewayRejected) as rejection:
        alipay.refund("PAY-2006", "RQ-2006-1", 1_000, 1_000, "")

    assert rejection.value.code == "isv.invalid-signature"
    assert gateway.refunds_of("PAY-2006") == []


def test_the_emulator_hands_out_keys_the_adapters_can_load(
    emulator: tuple[PaymentsEmulator, str],
) -> None:
    credentials = emulator[0].enroll_wechat_merchant("1900000110")
    assert load_public_key(credentials.platform_public_key_pem).key_size == 2048
    assert len(credentials.api_v3_key) == 32
