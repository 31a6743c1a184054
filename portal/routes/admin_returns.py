"""Staff review of returns: photos, the rules' reasons, approve in full or in part, or reject."""

from __future__ import annotations

from contextlib import suppress

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.refunds import catalogue_images, photo_matches, service, silent_parcels, views
from backend.refunds.photos import PhotoRejected
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.refund_words import explain_all
from portal.rendering import redirect, render
from portal.routes.admin_finance import sku_page
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

MAX_CATALOGUE_IMAGE_BYTES = 12 * 1024 * 1024


Queue = tuple[
    list[views.ReturnView],
    list[tuple[int, str, int, str]],
    dict[int, list[photo_matches.PhotoCopy]],
]


def _load_queue(database) -> Queue:
    pending = [
        views.get_return_view(database, rid, None) for rid in views.list_returns_in_review(database)
    ]
    shown = [view for view in pending if view is not None]
    copies = photo_matches.list_photo_copies(database, [view.id for view in shown])
    return shown, views.list_failed_refunds(database), copies


async def queue(request: Request) -> Response:
    staff = await require_staff(request, Permission.REVIEW_REFUNDS)
    pending, failed, copies = await calls.read(request, _load_queue, request.app.state.database)
    return render(
        request,
        "admin/returns.html",
        {
            "staff": staff,
            "returns": pending,
            "failed": failed,
            "copies": copies,
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


async def upload_catalogue_image(request: Request) -> Response:
    """The SKU page's catalogue image form: code and image, back to the SKU page."""
    staff = await require_staff(request, Permission.MANAGE_SKUS)
    async with request.form(max_files=1, max_part_size=MAX_CATALOGUE_IMAGE_BYTES) as form:
        upload = form.get("image")
        code = form_text(form, "code", 64)
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        await calls.write(
            request,
            catalogue_images.set_catalogue_image,
            request.app.state.database,
            request.app.state.photo_store,
            code,
            data,
            staff.actor(client_ip(request)),
        )
    except PhotoRejected:
        return await sku_page(
            request, N_("The image could not be read: JPEG, PNG, WebP or HEIC."), 422
        )
    except catalogue_images.SkuNotFound:
        return await sku_page(request, N_("No SKU with this code."), 422)
    return redirect(request, "admin_skus")


async def catalogue_thumbnail(request: Request) -> Response:
    """Shown on the review page next to a return photo that copies it: thumbnail only."""
    await require_staff(request, Permission.REVIEW_REFUNDS)
    name = await calls.read(
        request,
        catalogue_images.catalogue_thumbnail,
        request.app.state.database,
        request.path_params["sku_id"],
    )
    if name is None:
        raise HTTPException(404)
    return Response(
        request.app.state.photo_store.read(name),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )


routes = [
    Route(
        "/skus/image", upload_catalogue_image, methods=["POST"], name="admin_upload_catalogue_image"
    ),
    Route("/skus/{sku_id:id}/image", catalogue_thumbnail, name="admin_catalogue_image"),
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
