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
    target = request.query_params.get("next", "")
    if not is_local_path(target):
        # Never somewhere else, whatever the signature says: an open redirect otherwise.
        return _fallback(request, request.url_for("orders").path, "next is not a local path")
    problem = await _link(request, target)
    if problem is not None:
        return _fallback(request, target, problem)
    return RedirectResponse(target, status_code=303)


async def _link(request: Request, target: str) -> str | None:
    """Links the openid WeChat's answer names; else why not, for the log."""
    query = request.query_params
    oauth: WeChatOAuth | None = request.app.state.wechat_oauth
    customer = request.app.state.sessions.customer(request)
    if oauth is None or customer is None:
        return "no oauth or no customer session"
    binding = session_binding(customer, oauth.appid)
    try:
        state = oauth.states.verify(query.get("state", ""), binding, target)
    except StateInvalid:
        return "state invalid"
    code = query.get("code")
    if not code:
        return "no code: the user refused"
    database, actor = request.app.state.database, _actor(request, customer)
    link = (database, oauth.client, customer, state.nonce, code, actor)
    try:
        await calls.outbound(request, link_from_oauth_code, *link)
    except StateReplayed:
        return "state used before"
    except OAuthFailed as failure:
        return str(failure)
    return None


routes = [Route("/wechat/oauth/callback", callback, name="wechat_oauth_callback")]
