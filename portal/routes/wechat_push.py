"""The 公众号's server push: URL verification (GET) and subscribe events (POST, plaintext)."""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from backend.notifications.wechat_push import (
    PushMalformed,
    PushSignatureInvalid,
    PushTooOld,
    apply_push,
    parse_push,
    verify_push,
)
from portal import calls

# A subscribe event is well under a kilobyte; anything this large is not one.
MAX_PUSH_BYTES = 64 * 1024


def _verified(request: Request) -> Response | None:
    """None for a genuine recent push, else the refusal (404 when no token is set)."""
    token = request.app.state.settings.wechat_push_token
    if not token:
        raise HTTPException(404)
    query = request.query_params
    try:
        verify_push(
            token,
            query.get("timestamp", ""),
            query.get("nonce", ""),
            query.get("signature", ""),
            now=time.time(),
        )
    except PushSignatureInvalid:
        return PlainTextResponse("invalid signature", status_code=403)
    except PushTooOld:
        return PlainTextResponse("timestamp outside the accepted window", status_code=403)
    return None


async def verify_url(request: Request) -> Response:
    refusal = _verified(request)
    # WeChat wants echostr back as it sent it, nothing around it.
    return refusal or PlainTextResponse(request.query_params.get("echostr", ""))


async def receive(request: Request) -> Response:
    if (refusal := _verified(request)) is not None:
        return refusal
    if request.query_params.get("encrypt_type", "raw") != "raw":
        # Safe mode (AES) is not supported yet: refusing says so in WeChat's push log.
        return PlainTextResponse("encrypted pushes are not supported", status_code=400)
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_PUSH_BYTES:
        return PlainTextResponse("payload too large", status_code=413)
    body = await request.body()
    if len(body) > MAX_PUSH_BYTES:
        return PlainTextResponse("payload too large", status_code=413)
    try:
        message = parse_push(body)
    except PushMalformed:
        return PlainTextResponse("malformed push", status_code=400)
    appid = request.app.state.settings.wechat_appid
    await calls.write(request, apply_push, request.app.state.database, appid, message)
    # "success" tells WeChat not to retry and not to show the user an error.
    return PlainTextResponse("success")


routes = [
    Route("/wechat/official", verify_url, methods=["GET"], name="wechat_push_verify"),
    Route("/wechat/official", receive, methods=["POST"], name="wechat_push"),
]
