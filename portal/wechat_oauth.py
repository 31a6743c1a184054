"""When a customer page inside WeChat first runs the silent snsapi_base OAuth, and only then.

A page opened in WeChat's browser, with a customer session, for a customer who has no
openid for our app yet, answers with a redirect to WeChat's authorize page before
anything is rendered (so nothing flashes), and WeChat sends the browser straight back to
the callback (portal/routes/wechat_oauth.py). The redirect sets a cookie first: whatever
happens at WeChat (a refusal, an error, a user who never comes back) the pages do not
send the browser there again until it expires, so a failure can never become a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from backend.orders.access import CustomerSession
from backend.orders.wechat_identity import has_wechat_id
from backend.orders.wechat_oauth import StateSigner, WeChatOAuthClient, is_local_path
from portal import calls
from portal.rendering import is_htmx
from portal.sessions import SignedCookie
from portal.settings import Settings
from portal.wechat_context import Container, container_of

TRIED_COOKIE = "portal_wechat_oauth"


def is_wechat_browser(request: Request) -> bool:
    # A mini program's web-view is WeChat too, but its user is known through wx.login, not
    # through the official account's OAuth (docs/protocols.md, "WeChat web OAuth / Where it
    # runs").
    return container_of(request.headers.get("user-agent", "")) == Container.WECHAT


def session_binding(customer: CustomerSession, appid: str) -> str:
    """What a state is bound to: this app, this customer, and the grant of this session."""
    return f"{appid}:{customer.customer_id}:{customer.order_id}:{customer.link_version}"


def page_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


@dataclass(frozen=True)
class WeChatOAuth:
    """The configured round trip: the client, the state signer, the "tried" cookie."""

    settings: Settings
    client: WeChatOAuthClient
    states: StateSigner
    tried: SignedCookie

    @classmethod
    def build(cls, settings: Settings, client: WeChatOAuthClient | None) -> WeChatOAuth | None:
        if client is None:
            return None  # no wechat_appid: nothing of this runs
        tried = SignedCookie(
            settings.secret_keys,
            "wechat-oauth-tried.v1",
            timedelta(hours=settings.wechat_oauth_retry_hours),
        )
        return cls(settings, client, StateSigner(settings.secret_keys), tried)

    @property
    def appid(self) -> str:
        return self.client.appid

    def was_tried(self, request: Request, customer: CustomerSession) -> bool:
        payload = self.tried.loads(request.cookies.get(TRIED_COOKIE))
        return payload == [customer.customer_id, self.appid]

    def mark_tried(self, response: Response, customer: CustomerSession) -> None:
        response.set_cookie(
            TRIED_COOKIE,
            self.tried.dumps([customer.customer_id, self.appid]),
            max_age=int(self.tried.max_age.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.settings.cookie_secure,
            path="/",
        )

    def authorize_redirect(self, request: Request, customer: CustomerSession) -> Response:
        path = page_path(request)
        state = self.states.sign(session_binding(customer, self.appid), path)
        callback = request.url_for("wechat_oauth_callback").path
        base = self.settings.base_url.rstrip("/")
        redirect_uri = f"{base}{callback}?{urlencode({'next': path})}"
        response = RedirectResponse(self.client.authorize_url(redirect_uri, state), status_code=303)
        self.mark_tried(response, customer)
        return response


async def oauth_redirect(request: Request, customer: CustomerSession) -> Response | None:
    """The redirect to WeChat this page view should answer with, or None to render it."""
    oauth: WeChatOAuth | None = request.app.state.wechat_oauth
    if oauth is None or request.method != "GET" or is_htmx(request):
        return None
    if not is_wechat_browser(request) or not is_local_path(page_path(request)):
        return None
    if oauth.was_tried(request, customer):
        return None  # checked before the query: a page after a failure costs nothing more
    database = request.app.state.database
    if await calls.read(request, has_wechat_id, database, customer.customer_id, oauth.appid):
        return None
    return oauth.authorize_redirect(request, customer)
