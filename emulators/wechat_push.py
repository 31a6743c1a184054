"""WeChat's side of the 公众号 server push: URL verification and signed subscribe events.

WeChat calls us here, not the other way round, so the emulator is a builder of the
requests it would make (query parameters and XML body), signed the way it signs them
(docs/protocols.md, "WeChat server push / Signature"); tests send them over HTTP.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from backend.notifications.wechat_push import build_push_signature

ORIGINAL_ID = "gh_000000emulator"


@dataclass(frozen=True)
class SignedPush:
    params: dict[str, str]  # signature, timestamp, nonce (and echostr for a verification)
    body: bytes = b""


def _signed(token: str, *, now: float | None = None, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    nonce = str(secrets.randbelow(10**10))
    signature = build_push_signature(token, timestamp, nonce)
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}


def build_verification(token: str, *, now: float | None = None) -> SignedPush:
    """The GET WeChat makes when the server URL is saved: echo echostr back if it is us."""
    return SignedPush(_signed(token, now=now, echostr=str(secrets.randbelow(10**18))))


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_subscribe_event(
    token: str,
    openid: str,
    statuses: Mapping[str, str],
    *,
    event: str = "subscribe_msg_popup_event",
    wrapper: str = "SubscribeMsgPopupEvent",
    now: float | None = None,
    popup_scene: int = 1,
) -> SignedPush:
    """A signed subscribe_msg_popup_event / subscribe_msg_change_event push.

    `statuses` is template_id -> accept|reject. Scene 1 is a popup from an H5 page.
    """
    created = int(time.time() if now is None else now)
    items = "".join(
        f"<List><TemplateId>{_cdata(template)}</TemplateId>"
        f"<SubscribeStatusString>{_cdata(status)}</SubscribeStatusString>"
        f"<PopupScene>{popup_scene}</PopupScene></List>"
        for template, status in statuses.items()
    )
    body = (
        f"<xml><ToUserName>{_cdata(ORIGINAL_ID)}</ToUserName>"
        f"<FromUserName>{_cdata(openid)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType>{_cdata('event')}</MsgType>"
        f"<Event>{_cdata(event)}</Event><{wrapper}>{items}</{wrapper}></xml>"
    )
    return SignedPush(_signed(token, now=now), body.encode())
