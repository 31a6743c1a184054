"""Staff review of returns: photos, the rules' reasons, approve in full or in part, or reject."""

from __future__ import annotations

from contextlib import suppress

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.refunds import service, silent_parcels, views
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.refund_words import explain_all
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff


def _load_queue(database) -> tuple[list[views.ReturnView], list[tuple[int, str, int, str]]]:
    pending = [
        views.get_return_view(database, rid, None) for rid in views.list_returns_in_review(database)
    ]
    return [view for view in pending if view is not None], views.list_failed_refunds(database)


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    pending, failed = await calls.read(request, _load_queue, request.app.state.database)
    return render(
        request,
        "admin/returns.html",
        {
            "staff": staff,
            "returns": pending,
            "failed": failed,
            "now": utcnow(),
            "because": {
                view.id: explain_all(view.checks, False, view.refund_type) for view in pending
            },
        },
    )


async def decide(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    return_id: int = request.path_params["return_id"]
    form = await request.form()
    verdict = form_text(form, "verdict", 10)
    amount_text = form_text(form, "amount_yuan", 12)
    amount = None
    if amount_text:
        yuan, _, cents = amount_text.partition(".")
        if not yuan.isdigit() or not (cents == "" or (cents.isdigit() and len(cents) <= 2)):
            raise HTTPException(400)
        amount = int(yuan) * 100 + int(cents.ljust(2, "0") or 0)
    if verdict not in ("approve", "reject"):
        raise HTTPException(400)
    try:
        await calls.write(
            request,
            service.review_return,
            request.app.state.database,
            return_id,
            verdict == "approve",
            staff.actor(client_ip(request)),
            amount_fen=amount,
            reason=form_text(form, "reason", 200),
        )
    except service.ReturnNotFound:
        pass  # decided meanwhile; the queue shows the truth
    except service.ReturnInvalid:
        raise HTTPException(400) from None
    return redirect(request, "admin_returns")


async def check_parcel(request: Request) -> Response:
    """Staff looked into a return parcel gone quiet; it leaves the exceptions page."""
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    form = await request.form()
    # Signed in or inspected meanwhile: nothing to check; the page shows the truth.
    with suppress(service.ReturnNotFound):
        await calls.write(
            request,
            silent_parcels.mark_return_parcel_checked,
            request.app.state.database,
            request.path_params["return_id"],
            form_text(form, "note", 200),
            staff.actor(client_ip(request)),
        )
    return redirect(request, "admin_exceptions")


async def photo(request: Request) -> Response:
    await require_staff(request, Permission.REVIEW_REFUNDS)
    photo_id: int = request.path_params["photo_id"]
    name = await calls.read(
        request,
        views.photo_file,
        request.app.state.database,
        photo_id,
        None,
        request.query_params.get("size") == "thumb",
    )
    if name is None:
        raise HTTPException(404)
    return Response(
        request.app.state.photo_store.read(name),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )


routes = [
    Route("/returns", queue, name="admin_returns"),
    Route("/returns/{return_id:id}", decide, methods=["POST"], name="admin_decide_return"),
    Route(
        "/returns/{return_id:id}/parcel-checked",
        check_parcel,
        methods=["POST"],
        name="admin_check_return_parcel",
    ),
    Route("/return-photos/{photo_id:id}", photo, name="admin_return_photo"),
]
