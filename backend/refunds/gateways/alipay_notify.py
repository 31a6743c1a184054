"""Alipay's asynchronous notify: the trade_status_sync form a refund sets off, verified."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from backend.refunds.gateways.alipay import (
    GATEWAY,
    build_sign_content,
    parse_alipay_time,
    parse_yuan,
)
from backend.refunds.gateways.base import (
    GatewayRefund,
    MalformedPayload,
    NotifyRejected,
    RefundStatus,
    verify_sha256_rsa,
)

# The plain-text answer that stops Alipay redelivering a notify; anything else (or no
# answer) makes it send the notify again (unconfirmed: docs/protocols.md,
# "Alipay / Async notify").
NOTIFY_REPLY_OK = "success"
NOTIFY_REPLY_FAIL = "fail"


def verify_notify_params(params: Mapping[str, str], alipay_public_key: rsa.RSAPublicKey) -> bool:
    """An async notify's form: `sign` and `sign_type` are both left out of the content.

    docs/protocols.md, "Alipay / Async notify".
    """
    content = build_sign_content(params, exclude=("sign", "sign_type"))
    return verify_sha256_rsa(alipay_public_key, content.encode("utf-8"), params.get("sign", ""))


@dataclass(frozen=True)
class TradeNotice:
    """A verified trade_status_sync notify. `refund` is None when it is not about a refund
    (the trade's own payment notify, which also goes to the same notify_url)."""

    notify_id: str
    trade_status: str
    refund: GatewayRefund | None


def parse_alipay_notify_time(text: Any) -> datetime | None:
    """gmt_refund may carry milliseconds ("yyyy-MM-dd HH:mm:ss.SSS"); other times do not."""
    return parse_alipay_time(str(text).split(".")[0]) if text else None


def parse_refund_notify(params: Mapping[str, str]) -> TradeNotice:
    """A notify whose signature and app were already checked, as a TradeNotice
    (docs/protocols.md, "Alipay / Async notify").

    A refund notify carries out_biz_no (our out_request_no) and refund_fee, the trade's
    refunded total. Alipay sends it only once the refund went through, so it reads as
    SUCCESS. It names no amount for this refund (GatewayRefund.amount_fen is None).
    """
    key, total = params.get("out_biz_no", ""), params.get("refund_fee", "")
    trade_status = params.get("trade_status", "")
    if not params.get("notify_id") or not trade_status:
        raise MalformedPayload("notify without notify_id or trade_status")
    if not (key and total):
        return TradeNotice(params["notify_id"], trade_status, None)
    refund = GatewayRefund(
        gateway=GATEWAY,
        out_refund_no=key,
        status=RefundStatus.SUCCESS,
        raw_status=f"notify:{trade_status}"[:40],
        amount_fen=None,
        success_time=parse_alipay_notify_time(params.get("gmt_refund")),
        payment_reference=params.get("out_trade_no") or None,
        gateway_payment_id=params.get("trade_no") or None,
        refunded_total_fen=parse_yuan(total),
    )
    return TradeNotice(params["notify_id"], trade_status, refund)


def read_refund_notify(
    params: Mapping[str, str], *, alipay_public_key: rsa.RSAPublicKey, app_id: str
) -> TradeNotice:
    """Everything the webhook route needs: verify the signature and our app_id, then parse.

    Alipay asks merchants to check app_id (and the trade's own fields) before trusting a
    notify; a notify for another app, even one Alipay signed, is not ours to act on.
    """
    if not verify_notify_params(params, alipay_public_key):
        raise NotifyRejected("bad signature")
    if params.get("app_id") != app_id or params.get("charset", "utf-8").lower() != "utf-8":
        raise NotifyRejected("notify for another app, or not UTF-8")
    try:
        return parse_refund_notify(params)
    except MalformedPayload as error:
        raise NotifyRejected(str(error)) from error
