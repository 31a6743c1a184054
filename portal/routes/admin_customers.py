"""The customer page (客户360), and the notes and complaints staff write on an order."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.customer_view import LIST_LIMIT, get_customer_view
from backend.staff.permissions import Permission
from backend.support import notes
from backend.support.lifecycle import NoteKind
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

NOTE_NOTICES = {
    "note_added": N_("Note saved. Only staff see it."),
    "complaint_added": N_("Complaint recorded: it stays open on the customer page until resolved."),
    "note_empty": N_("Write the note first."),
    "note_too_long": N_("A note is at most 1000 characters."),
}
CUSTOMER_NOTICES = {
    "resolved": N_("Complaint resolved."),
    "not_open": N_("That complaint is resolved already."),
}


async def customer_page(request: Request) -> Response:
    staff = await require_staff(request, Permission.VIEW_CUSTOMERS)
    view = await calls.read(
        request,
        get_customer_view,
        request.app.state.database,
        int(request.path_params["customer_id"]),
    )
    if view is None:
        raise HTTPException(404)
    return render(
        request,
        "admin/customer.html",
        {
            "staff": staff,
            "customer": view,
            "limit": LIST_LIMIT,
            "can_resolve": staff.can(Permission.ANSWER_CUSTOMERS),
            "notice": CUSTOMER_NOTICES.get(request.query_params.get("notice", "")),
        },
    )


async def add_note(request: Request) -> Response:
    staff = await require_staff(request, Permission.ANSWER_CUSTOMERS)
    order_id = int(request.path_params["order_id"])
    async with request.form(max_files=0, max_fields=3) as form:
        kind_text, body = form_text(form, "kind", 12), form_text(form, "body", 4000)
    kind = NoteKind.COMPLAINT if kind_text == NoteKind.COMPLAINT else NoteKind.NOTE
    try:
        await calls.write(
            request,
            notes.add_note,
            request.app.state.database,
            order_id,
            kind,
            body,
            staff.actor(client_ip(request)),
        )
        notice = "complaint_added" if kind == NoteKind.COMPLAINT else "note_added"
    except notes.NoteOrderNotFound:
        raise HTTPException(404) from None
    except notes.NoteEmpty:
        notice = "note_empty"
    except notes.NoteTooLong:
        notice = "note_too_long"
    target = request.url_for("admin_order", order_id=order_id).path
    return RedirectResponse(f"{target}?notice={notice}#notes", status_code=303)


async def resolve_complaint(request: Request) -> Response:
    staff = await require_staff(request, Permission.ANSWER_CUSTOMERS)
    note_id = int(request.path_params["note_id"])
    database = request.app.state.database
    try:
        customer_id = await calls.write(
            request, notes.resolve_complaint, database, note_id, staff.actor(client_ip(request))
        )
        notice = "resolved"
    except notes.NoteNotFound:
        raise HTTPException(404) from None
    except notes.NotAComplaint:
        customer_id = await calls.read(request, notes.customer_of_note, database, note_id)
        notice = "not_open"
    target = request.url_for("admin_customer", customer_id=customer_id).path
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


routes = [
    Route("/customers/{customer_id:id}", customer_page, name="admin_customer"),
    Route("/orders/{order_id:id}/notes", add_note, methods=["POST"], name="admin_add_note"),
    Route(
        "/notes/{note_id:id}/resolve",
        resolve_complaint,
        methods=["POST"],
        name="admin_resolve_complaint",
    ),
]
