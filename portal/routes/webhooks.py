"""Carrier pushes: verified, stored and acknowledged in the carrier's own reply format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.fulfilment import erp_push
from backend.logistics import tracking_jobs
from backend.logistics.carriers import kuaidi100, sf
from backend.logistics.carriers.base import MalformedPayload
from backend.orders import channel_webhooks
from backend.orders.channels import PayloadInvalid
from backend.orders.shops import ShopConfig
from backend.refunds import payouts
from backend.refunds.gateways import alipay_notify, wechatpay
from backend.refunds.gateways.base import MalformedPayload as RefundMalformed
from backend.refunds.gateways.base import NotifyRejected
from portal import calls
from portal.forms import form_text
from portal.waybill_words import outcome_json

MAX_PUSH_BYTES = 2 * 1024 * 1024


def _kuaidi100_refusal(code: str, message: str, status: int) -> Response:
    return JSONResponse({"result": False, "returnCode": code, "message": message}, status)


async def _body(request: Request) -> bytes | None:
    length = request.headers.get("content-length")
    if length and (not length.isdigit() or int(length) > MAX_PUSH_BYTES):
        return None
    body = await request.body()
    return body if len(body) <= MAX_PUSH_BYTES else None


async def kuaidi100_push(request: Request) -> Response:
    if await _body(request) is None:
        return _kuaidi100_refusal("413", "payload too large", 413)
    form = await request.form()
    param = str(form.get("param") or "")
    sign = form_text(form, "sign", 64)
    settings = request.app.state.settings
    try:
        await calls.write(
            request,
            tracking_jobs.accept_kuaidi100_push,
            request.app.state.database,
            param,
            sign,
            settings.kuaidi100_salt,
        )
    except tracking_jobs.PushSignatureInvalid:
        return _kuaidi100_refusal("403", "签名验证失败", 403)
    except MalformedPayload:
        return _kuaidi100_refusal("400", "数据格式错误", 400)
    return JSONResponse(kuaidi100.PUSH_REPLY_OK)


async def sf_push(request: Request) -> Response:
    body = await _body(request)
    if body is None:
        return JSONResponse({"return_code": "4130", "return_msg": "payload too large"}, 413)
    settings, state = request.app.state.settings, request.app.state
    signed_form = None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        signed_form = {
            key: str(form.get(key) or "") for key in ("msgData", "timestamp", "msgDigest")
        }
    try:
        await calls.write(
            request,
            tracking_jobs.accept_sf_push,
            state.database,
            state.tracking_clients,
            token=request.path_params["token"],
            expected_token=settings.sf_push_token,
            body=body.decode("utf-8", "replace"),
            signed_form=signed_form,
            check_word=settings.sf_check_word,
        )
    except tracking_jobs.PushSignatureInvalid:
        # A wrong path token looks like no endpoint at all.
        return JSONResponse({"return_code": "4040", "return_msg": "not found"}, 404)
    except MalformedPayload:
        return JSONResponse({"return_code": "4000", "return_msg": "数据格式错误"}, 400)
    return JSONResponse(sf.PUSH_REPLY_OK)


async def wechatpay_refund(request: Request) -> Response:
    body = await _body(request)
    client = request.app.state.refund_gateways.by_name.get("wechatpay")
    if body is None or client is None:
        return JSONResponse(wechatpay.NOTIFY_REPLY_FAIL, 404 if client is None else 413)
    try:
        await calls.write(
            request,
            payouts.receive_wechatpay_notify,
            request.app.state.database,
            client,
            dict(request.headers),
            body,
        )
    except (NotifyRejected, RefundMalformed):
        # WeChat sends it again later; a forged one is simply refused.
        return JSONResponse(wechatpay.NOTIFY_REPLY_FAIL, 401)
    return JSONResponse(wechatpay.NOTIFY_REPLY_OK)


def _form(body: bytes) -> dict[str, str] | None:
    """A UTF-8 url-encoded form, or None; Alipay's notify is one (charset=utf-8)."""
    try:
        text = body.decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except ValueError:
        return None


async def alipay_notify_push(request: Request) -> Response:
    """Alipay's notify: `success` once verified and applied; anything else is redelivered."""
    body = await _body(request)
    client = request.app.state.refund_gateways.by_name.get("alipay")
    if body is None or client is None:
        return PlainTextResponse(alipay_notify.NOTIFY_REPLY_FAIL, 404 if client is None else 413)
    params = _form(body)
    try:
        if params is None:
            raise NotifyRejected("not a UTF-8 form")
        await calls.write(
            request, payouts.receive_alipay_notify, request.app.state.database, client, params
        )
    except NotifyRejected:
        return PlainTextResponse(alipay_notify.NOTIFY_REPLY_FAIL, 400)
    return PlainTextResponse(alipay_notify.NOTIFY_REPLY_OK)


ACCEPTED = {"ok": True, "accepted": True}


def _shop(request: Request, channel: str) -> ShopConfig | None:
    """The shop the URL names (its code after the channel), or the channel's default shop."""
    code = request.path_params.get("shop")
    return request.app.state.settings.shops.for_push(channel, code)


async def shopify(request: Request) -> Response:
    body = await _body(request)
    if body is None:
        return JSONResponse({"error": "payload too large"}, 413)
    shop = _shop(request, "shopify")
    if shop is None:
        return JSONResponse({"error": "unknown shop"}, 404)
    try:
        await calls.write(
            request,
            channel_webhooks.receive_shopify,
            request.app.state.database,
            body,
            request.headers.get("x-shopify-hmac-sha256"),
            shop,
            request.headers.get("x-shopify-event-id"),
        )
    except channel_webhooks.DeliveryNotAuthentic:
        return JSONResponse({"error": "signature"}, 401)
    except PayloadInvalid as invalid:
        return JSONResponse({"error": "payload", "field": invalid.field}, 422)
    return JSONResponse(ACCEPTED)


async def channel_push(request: Request) -> Response:
    if await _body(request) is None:
        return JSONResponse({"error": "payload too large"}, 413)
    channel = request.path_params["channel"]
    shop = _shop(request, channel)
    if shop is None or channel not in channel_webhooks.FORM_CHANNELS:
        return JSONResponse({"error": "unknown channel"}, 404)
    form = await request.form(max_files=0, max_fields=100, max_part_size=MAX_PUSH_BYTES)
    params = {key: str(value) for key, value in form.items()}
    try:
        await calls.write(
            request, channel_webhooks.receive_form, request.app.state.database, shop, params
        )
    except channel_webhooks.DeliveryNotAuthentic:
        return JSONResponse({"error": "signature"}, 401)
    except PayloadInvalid as invalid:
        return JSONResponse({"error": "payload", "field": invalid.field}, 422)
    return JSONResponse(ACCEPTED)


async def erp_waybills(request: Request) -> Response:
    """An ERP/WMS push of waybills; without a configured secret there is no such endpoint."""
    secret = request.app.state.settings.erp_secret
    if not secret:
        return JSONResponse({"error": "not found"}, 404)
    body = await _body(request)
    if body is None:
        return JSONResponse({"error": "payload too large"}, 413)
    try:
        answer = await calls.write(
            request,
            erp_push.receive_push,
            request.app.state.database,
            body,
            request.headers.get("x-portal-timestamp"),
            request.headers.get("x-portal-signature"),
            secret,
        )
    except erp_push.PushNotAuthentic:
        return JSONResponse({"error": "signature"}, 401)
    except erp_push.PushMalformed as malformed:
        return JSONResponse({"error": "payload", "field": malformed.field}, 400)
    return JSONResponse({"results": [outcome_json(result) for result in answer.results]})


# What each provider reads as "not received, send it again" when the database is down
# (portal/errors.py answers 503 with it, JSON or plain text): docs/protocols.md,
# "Kuaidi100 / Push callback", "SF Express / Route push", "WeChat Pay / Refund notify",
# "Alipay / Async notify". Shopify (which retries any non-2xx) and the marketplace
# channels get the plain JSON refusal.
UNAVAILABLE_REPLIES: dict[Callable[..., Any], dict[str, object] | str] = {
    kuaidi100_push: {"result": False, "returnCode": "500", "message": "服务器繁忙，请稍后重试"},
    sf_push: {"return_code": "5030", "return_msg": "服务器繁忙，请稍后重试"},
    wechatpay_refund: dict(wechatpay.NOTIFY_REPLY_FAIL),
    alipay_notify_push: alipay_notify.NOTIFY_REPLY_FAIL,
}

routes = [
    Route("/kuaidi100", kuaidi100_push, methods=["POST"], name="webhook_kuaidi100"),
    Route("/sf/{token}", sf_push, methods=["POST"], name="webhook_sf"),
    Route("/shopify", shopify, methods=["POST"], name="webhook_shopify"),
    Route("/shopify/{shop}", shopify, methods=["POST"], name="webhook_shopify_shop"),
    Route("/channels/{channel}", channel_push, methods=["POST"], name="webhook_channel"),
    Route("/erp/waybills", erp_waybills, methods=["POST"], name="webhook_erp_waybills"),
    Route(
        "/channels/{channel}/{shop}", channel_push, methods=["POST"], name="webhook_channel_shop"
    ),
    Route("/wechatpay/refund", wechatpay_refund, methods=["POST"], name="webhook_wechatpay_refund"),
    Route("/alipay/notify", alipay_notify_push, methods=["POST"], name="webhook_alipay_notify"),
]
