"""Session cookies: a signed, stateless grant for customers; a server-side session for staff.

Customers: the cookie is a signed statement of how the session was granted (customer,
granting order, that order's `link_version` at the time, and whether by SMS code, signed
link or lookup). It is not a row, because every customer page already runs a query on
the orders table, and checking the grant there is one more indexed condition in that
query (`backend.orders.access.SESSION_IS_CURRENT`): no extra query on the tracking page,
none on the order list, and no write when a link is opened, which happens on every SMS
tap. Revoking an order's links bumps its `link_version`, which ends every session granted
through that order, at once and in every process, because the check is against the
database. A row per session would buy ending one customer session alone, and a list of
them; neither is asked for, and both would cost a write per link tap and a join per page.
Rotating the keys out of `PORTAL_SECRET_KEYS` still ends every customer session at once.

Staff: the cookie carries only a signed random session id; the database keeps its hash
in `staff_sessions` (backend/staff/accounts.py), so logout, disabling an account and a
password change end sessions on the server, and each login leaves a record of when, from
where and with what browser.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from backend.orders.access import CustomerSession, GrantedBy
from portal.settings import Settings

CUSTOMER_COOKIE = "portal_customer"
STAFF_COOKIE = "portal_staff"
# Between a right password and the second factor: names the staff member, for 5 minutes.
# It opens nothing by itself; only a right code turns it into a staff session.
STAFF_PENDING_COOKIE = "portal_staff_pending"
GRANT_KINDS = frozenset(str(kind) for kind in GrantedBy)
# Customer cookies already verified, with when they were signed. Checking a signature
# (itsdangerous: a signer per key, HMAC, base64, JSON) was a tenth of a cached tracking
# page's CPU (README, Performance); a cookie seen again is only checked for its age.
KNOWN_CUSTOMER_COOKIES = 4096


class SignedCookie:
    """One cookie's signing: a salt of its own, a lifetime, and the rotating key list."""

    def __init__(self, secret_keys: tuple[str, ...], salt: str, max_age: timedelta) -> None:
        # itsdangerous signs with the last key and accepts all of them.
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=salt)
        self.max_age = max_age

    def dumps(self, payload: object) -> str:
        return self._serializer.dumps(payload)

    def loads(self, token: str | None) -> Any:
        signed = self.loads_signed(token)
        return None if signed is None else signed[0]

    def loads_signed(self, token: str | None) -> tuple[Any, float] | None:
        """The payload and when it was signed (a Unix time), or None."""
        if not token:
            return None
        try:
            payload, signed_at = self._serializer.loads(
                token, max_age=self.max_age_seconds, return_timestamp=True
            )
        except BadSignature:
            return None
        return payload, signed_at.timestamp()

    @property
    def max_age_seconds(self) -> int:
        return int(self.max_age.total_seconds())


def _customer_payload(session: CustomerSession) -> dict[str, object]:
    return {
        "c": session.customer_id,
        "o": session.order_id,
        "v": session.link_version,
        "g": str(session.granted_by),
    }


def _customer_session(payload: Any) -> CustomerSession | None:
    if not isinstance(payload, dict):
        return None
    customer_id, order_id, link_version = (payload.get(key) for key in ("c", "o", "v"))
    granted_by = payload.get("g")
    if not (
        isinstance(customer_id, int)
        and isinstance(order_id, int)
        and isinstance(link_version, int)
        and isinstance(granted_by, str)
        and granted_by in GRANT_KINDS
    ):
        return None
    return CustomerSession(customer_id, order_id, link_version, GrantedBy(granted_by))


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # v2: a v1 cookie named only the customer, which nothing could revoke.
        self.customer_cookie = SignedCookie(
            settings.secret_keys,
            "customer-session.v2",
            timedelta(hours=settings.customer_session_hours),
        )
        # v2: a v1 cookie named the staff id; now the cookie names a server-side session.
        self.staff_cookie = SignedCookie(
            settings.secret_keys, "staff-session.v2", timedelta(hours=settings.staff_session_hours)
        )

        self.pending_cookie = SignedCookie(
            settings.secret_keys, "staff-second-factor.v1", timedelta(minutes=5)
        )
        self._known_customers: dict[str, tuple[CustomerSession, float]] = {}

    @property
    def staff_lifetime(self) -> timedelta:
        return self.staff_cookie.max_age

    def customer(self, request: Request) -> CustomerSession | None:
        """What the cookie claims; pages check it against the database in their first query."""
        token = request.cookies.get(CUSTOMER_COOKIE)
        if not token:
            return None
        known = self._known_customers.get(token)
        if known is not None:
            session, signed_at = known
            # The same expiry the signature check applies.
            if time.time() - signed_at <= self.customer_cookie.max_age_seconds:
                return session
        signed = self.customer_cookie.loads_signed(token)
        if signed is None:
            return None
        claimed = _customer_session(signed[0])
        if claimed is not None:
            if len(self._known_customers) >= KNOWN_CUSTOMER_COOKIES:
                self._known_customers.clear()
            self._known_customers[token] = (claimed, signed[1])
        return claimed

    def staff_token(self, request: Request) -> str | None:
        token = self.staff_cookie.loads(request.cookies.get(STAFF_COOKIE))
        return token if isinstance(token, str) else None

    def _set(self, response: Response, name: str, value: str, max_age: timedelta) -> None:
        response.set_cookie(
            name,
            value,
            max_age=int(max_age.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.settings.cookie_secure,
            path="/",
        )

    def _delete(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path="/", httponly=True, samesite="lax", secure=self.settings.cookie_secure
        )

    def customer_cookie_value(self, session: CustomerSession) -> str:
        """The cookie's value for `session`: what signing in sets (a benchmark's client too)."""
        return self.customer_cookie.dumps(_customer_payload(session))

    def read_customer_cookie(self, value: str | None) -> CustomerSession | None:
        """What a cookie value says, unless forged, expired or of an older shape."""
        return _customer_session(self.customer_cookie.loads(value))

    def sign_in_customer(self, response: Response, session: CustomerSession) -> None:
        value = self.customer_cookie_value(session)
        self._set(response, CUSTOMER_COOKIE, value, self.customer_cookie.max_age)

    def sign_out_customer(self, response: Response) -> None:
        self._delete(response, CUSTOMER_COOKIE)

    def sign_in_staff(self, response: Response, session_token: str) -> None:
        value = self.staff_cookie.dumps(session_token)
        self._set(response, STAFF_COOKIE, value, self.staff_cookie.max_age)

    def sign_out_staff(self, response: Response) -> None:
        self._delete(response, STAFF_COOKIE)

    def pending_staff_id(self, request: Request) -> int | None:
        staff_id = self.pending_cookie.loads(request.cookies.get(STAFF_PENDING_COOKIE))
        return staff_id if isinstance(staff_id, int) and not isinstance(staff_id, bool) else None

    def start_second_factor(self, response: Response, staff_id: int) -> None:
        value = self.pending_cookie.dumps(staff_id)
        self._set(response, STAFF_PENDING_COOKIE, value, self.pending_cookie.max_age)

    def end_second_factor(self, response: Response) -> None:
        self._delete(response, STAFF_PENDING_COOKIE)
