"""Signed session cookies: one for a customer (scoped to their orders), one for staff."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from portal.settings import Settings

CUSTOMER_COOKIE = "portal_customer"
STAFF_COOKIE = "portal_staff"


class SessionCodec:
    def __init__(self, secret_keys: tuple[str, ...], salt: str, max_age: timedelta) -> None:
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=salt)
        self.max_age = max_age

    def dumps(self, subject_id: int) -> str:
        return self._serializer.dumps({"id": subject_id})

    def loads(self, token: str | None) -> int | None:
        if not token:
            return None
        try:
            payload = self._serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except BadSignature:
            return None
        value = payload.get("id") if isinstance(payload, dict) else None
        return value if isinstance(value, int) else None


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.customer = SessionCodec(
            settings.secret_keys,
            "customer-session.v1",
            timedelta(hours=settings.customer_session_hours),
        )
        self.staff = SessionCodec(
            settings.secret_keys, "staff-session.v1", timedelta(hours=settings.staff_session_hours)
        )

    def customer_id(self, request: Request) -> int | None:
        return self.customer.loads(request.cookies.get(CUSTOMER_COOKIE))

    def staff_id(self, request: Request) -> int | None:
        return self.staff.loads(request.cookies.get(STAFF_COOKIE))

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

    def sign_in_customer(self, response: Response, customer_id: int) -> None:
        self._set(
            response, CUSTOMER_COOKIE, self.customer.dumps(customer_id), self.customer.max_age
        )

    def sign_in_staff(self, response: Response, staff_id: int) -> None:
        self._set(response, STAFF_COOKIE, self.staff.dumps(staff_id), self.staff.max_age)

    def sign_out_staff(self, response: Response) -> None:
        response.delete_cookie(
            STAFF_COOKIE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.settings.cookie_secure,
        )
