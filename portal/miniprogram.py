"""The mini-program's own session: a short-lived signed bearer token, and the configured client.

WeChat's `session_key` never leaves the server (docs/protocols.md, "WeChat mini-program /
Login (code2Session)"); the mini-program gets this token instead and sends it as
`Authorization: Bearer <token>`. It is stateless like the customer cookie
(portal/sessions.py says why): it names the WeChat user, and, once a verified phone, an
earlier link or a lookup has found them, the customer grant, which every query checks against the
granting order's link version as the H5 pages do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from backend.breaker import BreakerChange
from backend.db import Database
from backend.notifications.wechat_subscribe import WeChatBreaker
from backend.notifications.wechat_tokens import DatabaseTokenProvider
from backend.orders.access import CustomerGrant, CustomerSession, GrantedBy
from backend.orders.wechat_miniprogram import MiniProgramClient
from backend.orders.wechat_oauth import WeChatIdentity
from portal.settings import Settings

BEARER_SALT = "miniprogram-bearer.v1"
# The verified phone (or a linked openid), or the lookup form's order number and digits.
GRANTED_IN_MINIPROGRAM = frozenset({str(GrantedBy.MINIPROGRAM), str(GrantedBy.LOOKUP)})


@dataclass(frozen=True)
class MiniProgramUser:
    """What a bearer token says: the WeChat user, and the customer grant once there is one."""

    identity: WeChatIdentity
    grant: CustomerGrant | None = None


def _payload(user: MiniProgramUser) -> dict[str, Any]:
    identity, grant = user.identity, user.grant
    payload: dict[str, Any] = {"a": identity.appid, "p": identity.openid, "u": identity.unionid}
    if grant is not None:
        session = grant.session
        payload |= {"c": session.customer_id, "o": session.order_id, "v": session.link_version}
        payload |= {"n": grant.public_no, "g": str(session.granted_by)}
    return payload


def _user(payload: Any) -> MiniProgramUser | None:
    if not isinstance(payload, dict):
        return None
    appid, openid, unionid = payload.get("a"), payload.get("p"), payload.get("u")
    if not isinstance(appid, str) or not isinstance(openid, str):
        return None
    identity = WeChatIdentity(appid, openid, unionid if isinstance(unionid, str) else None)
    if "c" not in payload:
        return MiniProgramUser(identity)
    customer_id, order_id, version = (payload.get(key) for key in ("c", "o", "v"))
    public_no, granted_by = payload.get("n"), payload.get("g")
    if not (
        isinstance(customer_id, int)
        and isinstance(order_id, int)
        and isinstance(version, int)
        and isinstance(public_no, str)
        and granted_by in GRANTED_IN_MINIPROGRAM
    ):
        return None
    session = CustomerSession(customer_id, order_id, version, GrantedBy(granted_by))
    return MiniProgramUser(identity, CustomerGrant(session, public_no))


class BearerSigner:
    """Signs and reads bearer tokens; the newest key signs, every listed key verifies."""

    def __init__(self, secret_keys: tuple[str, ...], max_age: timedelta) -> None:
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=BEARER_SALT)
        self.max_age = max_age

    def dumps(self, user: MiniProgramUser) -> str:
        return self._serializer.dumps(_payload(user))

    def loads(self, token: str) -> MiniProgramUser | None:
        """The user, or None for a token forged, altered, expired or of another app."""
        try:
            payload = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except BadSignature:  # SignatureExpired is one too
            return None
        return _user(payload)


@dataclass(frozen=True)
class MiniProgram:
    """The configured mini-program: its client, its bearer tokens, its template ids."""

    client: MiniProgramClient
    bearer: BearerSigner
    templates: dict[str, str]  # event -> template id

    @property
    def appid(self) -> str:
        return self.client.appid

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        http: httpx.Client,
        on_change: Callable[[BreakerChange], None] | None = None,
    ) -> MiniProgram | None:
        appid = settings.wechat_miniprogram_appid
        if not appid:
            return None
        # Its own token row (one per appid) and breaker: the official account's token and
        # outages are another app's.
        tokens = DatabaseTokenProvider(
            database,
            http,
            appid=appid,
            secret=settings.wechat_miniprogram_secret,
            base_url=settings.wechat_api_base_url,
            breaker=WeChatBreaker(f"wechat-login:{appid}", on_change=on_change),
        )
        client = MiniProgramClient(
            http,
            tokens,
            appid=appid,
            secret=settings.wechat_miniprogram_secret,
            base_url=settings.wechat_api_base_url,
        )
        lifetime = timedelta(minutes=settings.wechat_miniprogram_session_minutes)
        templates = dict(settings.lists.miniprogram_templates)
        return cls(client, BearerSigner(settings.secret_keys, lifetime), templates)

    def user(self, request: Request) -> MiniProgramUser | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        user = self.bearer.loads(token.strip())
        if user is None or user.identity.appid != self.appid:
            return None
        return user
