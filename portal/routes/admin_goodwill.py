"""补偿 on the staff order page, and finance's queue of goodwill refunds above the limit."""

from __future__ import annotations

import re
import secrets
import unicodedata

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.goodwill import service
from backend.goodwill.lifecycle import GoodwillStatus, GoodwillTransitionNotAllowed
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

# Yuan as staff type it: "20", "20.5", "20.50"; no sign, no thousands separators.
# Full-width digits from a Chinese input method are read as digits (NFKC), nothing else.
YUAN = re.compile(r"([0-9]{1,7})(?:\.([0-9]{1,2}))?")

GOODWILL_NOTICES = {
    "goodwill_paying": N_("Goodwill refund stored: it is paid through the original gateway."),
    "goodwill_awaiting": N_("Above the limit: the goodwill refund waits for finance to approve."),
    "goodwill_repeat": N_("That goodwill refund was asked for already; nothing more was done."),
    "goodwill_amount": N_("Type the amount in yuan, e.g. 20 or 20.50."),
    "goodwill_reason": N_("Say why the goodwill refund is given."),
    "goodwill_too_much": N_("More than is left of the payment after its refunds."),
    "goodwill_not_payable": N_("This order was not paid through a gateway we can refund."),
}


def new_request_key() -> str:
    """The one-time key a goodwill form carries (a double click sends it twice)."""
    return secrets.token_urlsafe(12)


def parse_yuan(raw: str) -> int | None:
    match = YUAN.fullmatch(unicodedata.normalize("NFKC", raw))
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _back(request: Request, order_id: int, notice: str) -> Response:
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}#goodwill", status_code=303)


async def grant(request: Request) -> Response:
    staff = await require_staff(request, Permission.GRANT_GOODWILL)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=4) as form:
        amount = parse_yuan(form_text(form, "amount", 12))
        reason, key = form_text(form, "reason", 200), form_text(form, "key", 40)
    if amount is None or amount <= 0:
        return _back(request, order_id, "goodwill_amount")
    if not reason:
        return _back(request, order_id, "goodwill_reason")
    try:
        outcome = await calls.write(
            request,
            service.request_goodwill,
            request.app.state.database,
            order_id,
            amount,
            reason,
            key,
            staff.actor(client_ip(request)),
            request.app.state.settings.goodwill_limit_fen,
        )
    except service.GoodwillInvalid:
        return _back(request, order_id, "goodwill_amount")
    except service.GoodwillExceedsRoom:
        return _back(request, order_id, "goodwill_too_much")
    except service.GoodwillNotPayable:
        return _back(request, order_id, "goodwill_not_payable")
    if outcome.repeated:
        return _back(request, order_id, "goodwill_repeat")
    paying = outcome.status == GoodwillStatus.PAYING
    return _back(request, order_id, "goodwill_paying" if paying else "goodwill_awaiting")


QUEUE_NOTICES = {
    "approved": N_("Approved: the goodwill refund is being paid."),
    "rejected": N_("Rejected: nothing is paid."),
    "same_person": N_("You asked for this goodwill refund; someone else must approve it."),
    "decided": N_("This goodwill refund was decided already."),
    "too_much": N_("Not approved: refunds paid since then left less than this amount."),
}


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.APPROVE_GOODWILL)
    rows = await calls.read(request, service.list_awaiting, request.app.state.database)
    notice = QUEUE_NOTICES.get(request.query_params.get("notice", ""))
    return render(request, "admin/goodwill.html", {"staff": staff, "rows": rows, "notice": notice})


async def decide(request: Request) -> Response:
    staff = await require_staff(request, Permission.APPROVE_GOODWILL)
    async with request.form(max_files=0, max_fields=2) as form:
        verdict = form_text(form, "verdict", 10)
    approve = verdict == "approve"
    try:
        await calls.write(
            request,
            service.decide_goodwill,
            request.app.state.database,
            int(request.path_params["goodwill_id"]),
            approve,
            staff.actor(client_ip(request)),
        )
        notice = "approved" if approve else "rejected"
    except service.SameApprover:
        notice = "same_person"
    except (GoodwillTransitionNotAllowed, service.GoodwillNotFound):
        notice = "decided"
    except service.GoodwillExceedsRoom:
        notice = "too_much"
    target = request.url_for("admin_goodwill").path
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


routes = [
    Route("/orders/{order_id:id}/goodwill", grant, methods=["POST"], name="admin_grant_goodwill"),
    Route("/goodwill", queue, name="admin_goodwill"),
    Route("/goodwill/{goodwill_id:id}", decide, methods=["POST"], name="admin_decide_goodwill"),
]
