"""WeChat's OAuth callback: check the state, link the openid, and go back to the page."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.actors import Actor, ActorKind
from backend.orders.access import CustomerSession
from backend.orders.wechat_identity import StateReplayed, link_from_oauth_code
from backend.orders.wechat_oauth import OAuthFailed, StateInvalid, is_local_path
from portal import calls
from portal.routes.customer_access import client_ip
from portal.wechat_oauth import WeChatOAuth, session_binding

log = logging.getLogger(__name__)


def _fallback(request: Request, target: str, reason: str) -> Response:
    """Back to the page, which opens without WeChat: its "tried" cookie stops a new round."""
    log.warning("wechat oauth fell back (%s)", reason)
    response = RedirectResponse(target, status_code=303)
    oauth: WeChatOAuth | None = request.app.state.wechat_oauth
    customer = request.app.state.sessions.customer(request)
    if oauth is not None and customer is not None:
        oauth.mark_tried(response, customer)
    return response


def _actor(request: Request, customer: CustomerSession) -> Actor:
    return Actor(
        ActorKind.CUSTOMER,
        f"customer:{customer.customer_id}",
        ip=client_ip(request),
        channel="wechat-oauth",
    )


async def callback(request: Request) -> Response:
    query = request.query_params
    target = query.get("next", "")
    if not is_local_path(target):
        # Never somewhere else, whatever the signature says: an open redirect otherwise.
        return _fallback(request, request.url_for("orders").path, "next is not a local path")
    oauth: WeChatOAuth | None = request.app.state.wechat_oauth
    customer = request.app.state.sessions.customer(request)
    if oauth is None or customer is None:
        return _fallback(request, target, "no oauth or no customer session")
    try:
        state = oauth.states.verify(
            query.get("state", ""), session_binding(customer, oauth.appid), target
        )
    except StateInvalid:
        return _fallback(request, target, "state invalid")
    code = query.get("code")
    if not code:
        return _fallback(request, target, "no code: the user refused")
    try:
        await calls.outbound(
            request,
            link_from_oauth_code,
            request.app.state.database,
            oauth.client,
            customer,
            state.nonce,
            code,
            _actor(request, customer),
        )
    except StateReplayed:
        return _fallback(request, target, "state used before")
    except OAuthFailed as failure:
        return _fallback(request, target, str(failure))
    return RedirectResponse(target, status_code=303)


routes = [Route("/wechat/oauth/callback", callback, name="wechat_oauth_callback")]
