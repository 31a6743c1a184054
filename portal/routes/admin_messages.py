"""Send a customer's message again from the staff order page (backend/notifications/resend)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.notifications.resend import ContactUnusable, ResendRefused, resend_message
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

RESEND_NOTICES = {
    "message_resent": N_("Sent again: a new message is on its way to the order's phone."),
    "message_resent_already": N_("That message was sent again already; nothing more was sent."),
    "message_not_resendable": N_(
        "This message can not be sent again: it is still waiting, or the page was out of date."
    ),
    "contact_unusable": N_(
        "Not sent: the order's phone is not a usable mobile number. Correct the address first."
    ),
}


async def resend(request: Request) -> Response:
    staff = await require_staff(request, Permission.ANSWER_CUSTOMERS)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=2) as form:
        number = form_text(form, "number", 6)
    notice = "message_not_resendable"
    if number.isdigit() and 0 < int(number) < 1000:
        try:
            done = await calls.write(
                request,
                resend_message,
                request.app.state.database,
                order_id,
                int(request.path_params["notification_id"]),
                int(number),
                staff.actor(client_ip(request)),
            )
            notice = "message_resent_already" if done.repeated else "message_resent"
        except ResendRefused:
            notice = "message_not_resendable"
        except ContactUnusable:
            notice = "contact_unusable"
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}#messages", status_code=303)


routes = [
    Route(
        "/orders/{order_id:id}/messages/{notification_id:id}/resend",
        resend,
        methods=["POST"],
        name="admin_resend_message",
    ),
]
