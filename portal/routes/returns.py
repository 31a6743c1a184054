"""Returns from the customer's side: the request form, photo uploads, the live progress page."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.service import DuplicateWaybill
from backend.orders.lifecycle import OrderStatus
from backend.orders.queries import list_order_lines
from backend.refunds import photo_uploads, return_parcels, service, views
from backend.refunds.photos import PhotoRejected, PhotoStore
from backend.refunds.rules import RefundType
from backend.tracking_page import TrackingHead
from portal import calls
from portal.forms import form_text
from portal.i18n import N_, current_locale
from portal.refund_words import explain_all, gateway_name, refunded_to, what_happens_now
from portal.rendering import is_htmx, render
from portal.routes.customer_access import customer_actor, customer_order_head
from portal.rules_in_force import rules_of

# What a photo upload may weigh on the wire; the browser compresses long before this.
MAX_UPLOAD_BYTES = 12 * 1024 * 1024
PHOTO_MESSAGES = {
    "photo_too_large": N_("The photo is too large (10 MB at most)."),
    "photo_too_many_pixels": N_("The photo has too many pixels."),
    "photo_type_not_allowed": N_("Only JPEG, PNG, WebP or HEIC photos can be uploaded."),
    "photo_corrupt": N_("The photo could not be read. Please take it again."),
    "too_many_photos": N_("At most 6 photos."),
    "photo_too_blurry": N_("The photo is blurry. Please hold the phone steady and take it again."),
    "photo_too_dark": N_("The photo is too dark. Please take it again in good light."),
}
ARRIVAL_TEXT = {
    views.Arrival.IMMEDIATE: N_("Refunds to WeChat or Alipay balances arrive at once."),
    views.Arrival.BANK_DAYS: N_("Refunds to a bank card arrive within 1–3 working days."),
    views.Arrival.PLATFORM: N_("The marketplace pays this refund back to you."),
}
RETURN_MESSAGES = {
    "photos_provided": N_("This reason needs at least one photo of the item."),
    "refund_type_allowed": N_("For this reason the item has to be sent back."),
    "quantity_too_high": N_("You cannot return more than you bought."),
    "nothing_selected": N_("Choose at least one item."),
    "line_unknown": N_("Choose at least one item."),
    "reason_known": N_("Choose a reason."),
    "amount_positive": N_("Choose at least one item."),
}


def _customer_id(request: Request) -> int:
    """Whose orders: only called after `customer_order_head` checked the session."""
    customer = request.app.state.sessions.customer(request)
    if customer is None:
        raise HTTPException(404)
    return customer.customer_id


def _store(request: Request) -> PhotoStore:
    store: PhotoStore = request.app.state.photo_store
    return store


def _form(
    request: Request, head: TrackingHead, error: str | None = None, status: int = 200
) -> Response:
    lines = list_order_lines(request.app.state.database, head.order_id)
    return render(
        request,
        "customer/return_form.html",
        {
            "public_no": head.row.public_no,
            "lines": lines,
            "error": error,
            "reasons": [
                (r.code, r.label(current_locale())) for r in rules_of(request).refunds.reasons
            ],
        },
        status_code=status,
    )


async def return_form(request: Request) -> Response:
    head = await customer_order_head(request)
    if OrderStatus(head.row.status) not in service.RETURNABLE:
        raise HTTPException(404)
    return _form(request, head)


async def upload_photo(request: Request) -> Response:
    head = await customer_order_head(request)
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_UPLOAD_BYTES):
        return render(
            request,
            "customer/_photo_error.html",
            {"message": PHOTO_MESSAGES["photo_too_large"]},
            status_code=413,
        )
    # The form closes its spooled files on the way out, whatever happens.
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD_BYTES) as form:
        upload = form.get("photo")
        data = await upload.read(MAX_UPLOAD_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data:
        return render(
            request,
            "customer/_photo_error.html",
            {"message": PHOTO_MESSAGES["photo_corrupt"]},
            status_code=422,
        )
    try:
        photo_id = await calls.write(
            request,
            photo_uploads.store_photo,
            request.app.state.database,
            _store(request),
            head.order_id,
            data,
        )
    except PhotoRejected as rejected:
        return render(
            request,
            "customer/_photo_error.html",
            {"message": PHOTO_MESSAGES.get(rejected.code, PHOTO_MESSAGES["photo_corrupt"])},
            status_code=422,
        )
    return render(
        request,
        "customer/_photo_thumb.html",
        {"public_no": head.row.public_no, "photo_id": photo_id},
    )


async def photo(request: Request) -> Response:
    head = await customer_order_head(request)
    photo_id: int = request.path_params["photo_id"]
    name = await calls.read(
        request,
        views.photo_file,
        request.app.state.database,
        photo_id,
        head.order_id,
        request.query_params.get("size") == "thumb",
    )
    if name is None:
        raise HTTPException(404)
    return Response(
        _store(request).read(name),
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )


async def file_return(request: Request) -> Response:
    head = await customer_order_head(request)
    async with request.form(max_files=0, max_fields=60) as form:
        pass
    quantities = {}
    for key, value in form.multi_items():
        wanted = str(value)
        if key.startswith("qty_") and key[4:].isdigit() and wanted.isdigit() and int(wanted):
            quantities[int(key[4:])] = min(int(wanted), 10_000)
    photo_ids = [int(str(v)) for v in form.getlist("photo_ids") if str(v).isdigit()][:6]
    refund_type_text = form_text(form, "refund_type", 20)
    if refund_type_text not in {str(t) for t in RefundType}:
        return _form(request, head, N_("Choose refund only or return and refund."), 422)
    actor = customer_actor(request, head.row.public_no)
    try:
        filed = await calls.write(
            request,
            service.file_return,
            request.app.state.database,
            head.order_id,
            _customer_id(request),
            quantities,
            RefundType(refund_type_text),
            form_text(form, "reason", 40),
            form_text(form, "description", 500, multiline=True),
            photo_ids,
            rules_of(request).refunds,
            actor,
        )
    except service.ReturnInvalid as invalid:
        message = RETURN_MESSAGES.get(invalid.code, N_("Please check the request."))
        return _form(request, head, message, 422)
    target = str(
        request.app.url_path_for(
            "return_progress", public_no=head.row.public_no, return_id=filed.return_id
        )
    )
    return RedirectResponse(target, status_code=303)


def _progress_words(view: views.ReturnView) -> dict[str, object]:
    """The sentences of the progress page, worded for this kind of request and gateway."""
    gateway = view.refund_gateway or ""
    return {
        "approved_because": explain_all(view.checks, True, view.refund_type),
        "review_because": explain_all(view.checks, False, view.refund_type),
        "now_words": what_happens_now(view.refund_type, view.status),
        "refunded_to": refunded_to(gateway, view.received_account),
        "gateway_name": gateway_name(gateway),
    }


async def _progress_page(
    request: Request,
    head: TrackingHead,
    return_id: int,
    error: str | None = None,
    status: int = 200,
) -> Response:
    view = await calls.read(
        request,
        views.get_return_view,
        request.app.state.database,
        return_id,
        _customer_id(request),
    )
    if view is None or view.order_id != head.order_id:
        raise HTTPException(404)
    if status == 200 and is_htmx(request) and request.query_params.get("marker") == view.marker:
        return Response(status_code=204)
    return render(
        request,
        "customer/return_progress.html",
        {
            "view": view,
            **_progress_words(view),
            "arrival_text": ARRIVAL_TEXT,
            "carriers": sorted(CARRIER_NAMES),
            "return_address": rules_of(request).refunds.return_address,
            "error": error,
        },
        partial="customer/_return_progress.html",
        status_code=status,
    )


async def progress(request: Request) -> Response:
    head = await customer_order_head(request)
    return await _progress_page(request, head, _return_id(request))


def _return_id(request: Request) -> int:
    return int(request.path_params["return_id"])  # {return_id:id}: a plausible id already


def _back_to_progress(request: Request, head: TrackingHead, return_id: int) -> Response:
    target = str(
        request.app.url_path_for(
            "return_progress", public_no=head.row.public_no, return_id=return_id
        )
    )
    return RedirectResponse(target, status_code=303)


async def send_back(request: Request) -> Response:
    """退货退款: the customer enters the waybill of the parcel they posted back."""
    head = await customer_order_head(request)
    return_id = _return_id(request)
    form = await request.form()
    try:
        await calls.write(
            request,
            return_parcels.send_back,
            request.app.state.database,
            return_id,
            _customer_id(request),
            form_text(form, "carrier", 32),
            form_text(form, "tracking_no", 40),
            customer_actor(request, head.row.public_no),
        )
    except (service.ReturnInvalid, DuplicateWaybill):
        return await _progress_page(
            request, head, return_id, N_("Check the carrier and the waybill number."), 422
        )
    return _back_to_progress(request, head, return_id)


async def ask_again(request: Request) -> Response:
    """A rejected request, asked once more with more words and photos."""
    head = await customer_order_head(request)
    return_id = _return_id(request)
    form = await request.form(max_files=0, max_fields=20)
    photo_ids = [int(str(v)) for v in form.getlist("photo_ids") if str(v).isdigit()][:6]
    try:
        filed = await calls.write(
            request,
            service.ask_again,
            request.app.state.database,
            return_id,
            _customer_id(request),
            form_text(form, "description", 500, multiline=True),
            photo_ids,
            rules_of(request).refunds,
            customer_actor(request, head.row.public_no),
        )
    except service.ReturnInvalid:
        return await _progress_page(
            request, head, return_id, N_("This request has already been asked again."), 422
        )
    return _back_to_progress(request, head, filed.return_id)


routes = [
    Route("/orders/{public_no:order_no}/return", return_form, name="return_form"),
    Route("/orders/{public_no:order_no}/return", file_return, methods=["POST"], name="return_file"),
    Route(
        "/orders/{public_no:order_no}/return/photos",
        upload_photo,
        methods=["POST"],
        name="return_photo_upload",
    ),
    Route("/orders/{public_no:order_no}/return/photos/{photo_id:id}", photo, name="return_photo"),
    Route("/orders/{public_no:order_no}/returns/{return_id:id}", progress, name="return_progress"),
    Route(
        "/orders/{public_no:order_no}/returns/{return_id:id}/parcel",
        send_back,
        methods=["POST"],
        name="return_send_back",
    ),
    Route(
        "/orders/{public_no:order_no}/returns/{return_id:id}/again",
        ask_again,
        methods=["POST"],
        name="return_ask_again",
    ),
]
