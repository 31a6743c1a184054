"""The mini-program's JSON API: login, phone or lookup, order list with web-view links, consents.

Every answer is JSON, errors included (`{"error": "<reason>"}` with a 4xx, or a 503 when
WeChat is away), because the caller is the mini-program's code, not a browser showing
pages. The bearer token (portal/miniprogram.py) is the only credential these accept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.actors import Actor, ActorKind
from backend.notifications.base import NotificationError
from backend.notifications.subscribe_results import (
    SubscribeResultInvalid,
    parse_subscribe_result,
    record_subscribe_result,
)
from backend.orders.access import (
    CustomerGrant,
    LookupNotFound,
    LookupRateLimited,
    SessionEnded,
    lookup_order,
)
from backend.orders.miniprogram import (
    MiniProgramOrder,
    NoOrdersForPhone,
    PhoneNotMobile,
    check_session,
    grant_for_openid,
    list_miniprogram_orders,
    sign_in_with_phone,
)
from backend.orders.wechat_miniprogram import MiniProgramFailed
from portal import calls
from portal.calls import WriterBusy
from portal.labels import label
from portal.miniprogram import MiniProgram, MiniProgramUser
from portal.routes.customer_access import client_ip

log = logging.getLogger(__name__)
MAX_BODY = 4096  # a code or five template answers; anything larger is not ours
MAX_CODE = 256

# WeChat's refusals of a login or phone code as our answers: docs/protocols.md,
# "WeChat mini-program / Error codes".
REFUSALS = {40029: (400, "code_invalid"), 45011: (429, "too_many_requests")}
REFUSALS[40226] = (403, "login_blocked")


class ApiError(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _json_error(status: int, error: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _handled(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as problem:
            return _json_error(problem.status, problem.error)
        except SessionEnded:
            return _json_error(401, "session_ended")
        except (MiniProgramFailed, NotificationError) as failure:
            return _wechat_failure(failure)
        except WriterBusy:
            return _json_error(503, "busy")  # nothing was written: the call can be repeated

    return endpoint


def _wechat_failure(failure: Exception) -> JSONResponse:
    code = getattr(failure, "code", None)
    if isinstance(failure, MiniProgramFailed) and code in REFUSALS:
        return _json_error(*REFUSALS[code])
    # The type and errcode only: WeChat's errmsg and transport texts may quote what we sent.
    log.warning("wechat mini-program call failed: %s %s", type(failure).__name__, code)
    return _json_error(503, "wechat_unavailable")


def _miniprogram(request: Request) -> MiniProgram:
    miniprogram: MiniProgram | None = request.app.state.miniprogram
    if miniprogram is None:
        raise ApiError(404, "miniprogram_not_configured")
    return miniprogram


def _user(request: Request, *, customer: bool) -> tuple[MiniProgram, MiniProgramUser]:
    miniprogram = _miniprogram(request)
    user = miniprogram.user(request)
    if user is None:
        raise ApiError(401, "bearer_invalid")
    if customer and user.grant is None:
        raise ApiError(403, "phone_needed")
    return miniprogram, user


async def _body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "body_too_large")  # refused before it is read
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "body_too_large")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "body_not_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body_not_object")
    return body


async def _code(request: Request) -> str:
    code = (await _body(request)).get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
        raise ApiError(422, "code_missing")
    return code.strip()


def _session_answer(miniprogram: MiniProgram, user: MiniProgramUser) -> JSONResponse:
    return JSONResponse(
        {
            "token": miniprogram.bearer.dumps(user),
            "expires_in": int(miniprogram.bearer.max_age.total_seconds()),
            "customer": user.grant is not None,
            "templates": miniprogram.templates,
        }
    )


async def login(request: Request) -> Response:
    miniprogram = _miniprogram(request)
    code = await _code(request)
    identity = await calls.outbound(request, miniprogram.client.exchange_code, code)
    database = request.app.state.database
    grant = await calls.read(request, grant_for_openid, database, identity.appid, identity.openid)
    return _session_answer(miniprogram, MiniProgramUser(identity, grant))


async def phone(request: Request) -> Response:
    miniprogram, user = _user(request, customer=False)
    code, openid = await _code(request), user.identity.openid
    verified = await calls.outbound(request, miniprogram.client.phone_number, code, openid)
    database, ip = request.app.state.database, client_ip(request)
    try:
        grant: CustomerGrant = await calls.write(
            request,
            sign_in_with_phone,
            database,
            user.identity,
            verified.pure,
            country_code=verified.country_code,
            ip=ip,
        )
    except PhoneNotMobile:
        raise ApiError(422, "phone_not_mainland_mobile") from None
    except NoOrdersForPhone:
        raise ApiError(404, "no_orders_for_phone") from None
    return _session_answer(miniprogram, MiniProgramUser(user.identity, grant))


async def lookup(request: Request) -> Response:
    """The lookup form's way in: order number and the phone's last four digits.

    It grants this session only; the openid is not linked, since four digits prove less
    than a number WeChat verified, and a link would let every later login in.
    """
    miniprogram, user = _user(request, customer=False)
    body = await _body(request)
    order_no, last4 = body.get("order_no"), body.get("phone_last4")
    if not isinstance(order_no, str) or not isinstance(last4, str) or len(order_no) > 64:
        raise ApiError(422, "order_no_and_phone_last4_needed")
    database, ip = request.app.state.database, client_ip(request)
    try:
        grant = await calls.write(request, lookup_order, database, order_no, last4[:8], ip)
    except LookupRateLimited:
        raise ApiError(429, "too_many_lookups") from None
    except LookupNotFound:
        raise ApiError(404, "no_order_matches") from None
    return _session_answer(miniprogram, MiniProgramUser(user.identity, grant))


def _order_json(request: Request, order: MiniProgramOrder) -> dict[str, Any]:
    summary = order.summary
    token = request.app.state.link_signer.sign(summary.id, order.link_version)
    path = request.url_for("signed_link", token=token).path
    return {
        "public_no": summary.public_no,
        "status": str(summary.status),
        "status_text": label(summary.status),
        "placed_at": summary.placed_at.isoformat(),
        "total_fen": summary.total_fen,
        "first_item": summary.first_item,
        "item_count": summary.item_count,
        # Absolute: a <web-view> src is a full URL on the merchant's 业务域名.
        "link": request.app.state.settings.base_url.rstrip("/") + path,
    }


async def orders(request: Request) -> Response:
    _, user = _user(request, customer=True)
    assert user.grant is not None
    found = await calls.read(
        request, list_miniprogram_orders, request.app.state.database, user.grant.session
    )
    return JSONResponse({"orders": [_order_json(request, order) for order in found]})


async def consents(request: Request) -> Response:
    miniprogram, user = _user(request, customer=True)
    assert user.grant is not None
    try:
        answers = parse_subscribe_result(await _body(request))
    except SubscribeResultInvalid:
        raise ApiError(422, "result_invalid") from None
    if not set(answers) <= set(miniprogram.templates.values()):
        raise ApiError(422, "template_unknown")  # only ids this shop sends with count
    # Consents name the customer after the order they act from (consents._check_actor).
    actor = Actor(ActorKind.CUSTOMER, f"customer:{user.grant.public_no}", ip=client_ip(request))
    customer_id, database = user.grant.customer_id, request.app.state.database
    await calls.read(request, check_session, database, user.grant.session)
    outcome = await calls.write(
        request, record_subscribe_result, database, customer_id, miniprogram.appid, answers, actor
    )
    return JSONResponse(
        {
            "accepted": list(outcome.accepted),
            "refused": list(outcome.refused),
            "ignored": list(outcome.ignored),
        }
    )


routes = [
    Route("/login", _handled(login), methods=["POST"], name="miniprogram_login"),
    Route("/phone", _handled(phone), methods=["POST"], name="miniprogram_phone"),
    Route("/lookup", _handled(lookup), methods=["POST"], name="miniprogram_lookup"),
    Route("/orders", _handled(orders), methods=["GET"], name="miniprogram_orders"),
    Route("/consents", _handled(consents), methods=["POST"], name="miniprogram_consents"),
]
