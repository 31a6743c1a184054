"""The 公众号 subscribe button on the tracking page: when it is offered, and its CSP.

Offered only in WeChat's own browser, with the official account configured, templates
set, and an openid of this customer for that account (without one, WeChat's answer
could not be tied to anybody). wx.config is signed on the server
(backend/notifications/wechat_jsapi.py); portal/static/wechat_subscribe.js hands the
values to the JS-SDK, which turns <wx-open-subscribe> into WeChat's own button.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.requests import Request

from backend.notifications.base import NotificationError
from backend.notifications.wechat_jsapi import JsapiConfig, JsapiSigner
from backend.orders.access import CustomerSession
from backend.orders.wechat_identity import has_wechat_id
from portal import calls
from portal.critical_css import hash_source
from portal.wechat_context import Container, container_of, policy_with_jssdk

logger = logging.getLogger(__name__)

# WeChat draws the open tag's template in its own shadow tree, so the page's stylesheet
# does not reach the button: the style goes inside the template, and this one inline
# style is what the CSP lets in by hash, on this response only (docs/protocols.md,
# "WeChat JS-SDK / Open subscribe tag").
OPEN_TAG_STYLE = (
    ".subscribe{display:block;width:100%;min-height:44px;border:0;border-radius:8px;"
    "background:#07c160;color:#fff;font-size:16px}"
)


@dataclass(frozen=True)
class SubscribeOffer:
    config: JsapiConfig
    template_ids: tuple[str, ...]


def page_url(request: Request) -> str:
    """The URL the customer's browser shows, which is the one WeChat checks the signature
    against: the public base URL, not the host a proxy forwarded to."""
    base = request.app.state.settings.base_url.rstrip("/")
    query = request.url.query
    return base + request.url.path + (f"?{query}" if query else "")


async def subscribe_offer(request: Request, customer: CustomerSession) -> SubscribeOffer | None:
    settings = request.app.state.settings
    signer: JsapiSigner | None = request.app.state.wechat_jsapi
    template_ids = tuple(dict.fromkeys(settings.lists.wechat_templates.values()))
    in_wechat = container_of(request.headers.get("user-agent", "")) == Container.WECHAT
    if not in_wechat or signer is None or not template_ids:
        return None
    database = request.app.state.database
    if not await calls.read(
        request, has_wechat_id, database, customer.customer_id, settings.wechat_appid
    ):
        return None
    try:
        config = await calls.outbound(request, signer.sign, page_url(request))
    except NotificationError as error:
        # The page works without the button; the next page view tries again.
        logger.warning("no jsapi_ticket, subscribe button left out: %s", type(error).__name__)
        return None
    return SubscribeOffer(config, template_ids)


def policy_with_open_tag() -> str:
    """The JS-SDK's host in script-src, and the open tag's one style by its hash."""
    source = hash_source(OPEN_TAG_STYLE)
    return policy_with_jssdk().replace("style-src 'self'", f"style-src 'self' {source}", 1)
