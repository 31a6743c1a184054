"""The customer's invoice page on an order: ask with a title, see the status, download the PDF."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.invoices import service, views
from backend.invoices.models import TitleKind
from backend.tracking_page import TrackingHead
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import customer_actor, customer_order_head

TITLE_ERRORS = {
    "title": N_("Enter the invoice title."),
    "tax_number": N_("This 统一社会信用代码 is not valid. Check the 18 characters."),
    "email": N_("Enter the email address the invoice is sent to."),
}


async def _page(
    request: Request,
    head: TrackingHead,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    invoice = await calls.read(
        request, views.get_invoice_of, request.app.state.database, head.order_id
    )
    context = {
        "public_no": head.row.public_no,
        "invoice": invoice,
        "tax_number": views.mask_tax_number(invoice.tax_number) if invoice else "",
        "email": views.mask_email(invoice.email) if invoice else "",
        "error": error,
        "values": values or {"kind": "personal", "title": "", "tax_number": "", "email": ""},
    }
    return render(request, "customer/invoice.html", context, status_code=status)


async def invoice_page(request: Request) -> Response:
    head = await customer_order_head(request)
    return await _page(request, head)


async def request_invoice(request: Request) -> Response:
    head = await customer_order_head(request)
    customer_id = head.row.customer_id
    async with request.form(max_files=0, max_fields=8) as form:
        values = {
            name: form_text(form, name, 120) for name in ("kind", "title", "tax_number", "email")
        }
    kind = TitleKind.COMPANY if values["kind"] == "company" else TitleKind.PERSONAL
    title = service.InvoiceTitle(kind, values["title"], values["tax_number"], values["email"])
    actor = customer_actor(request, head.row.public_no)
    database = request.app.state.database
    try:
        await calls.write(
            request, service.request_invoice, database, head.order_id, customer_id, title, actor
        )
    except service.InvoiceInvalid as invalid:
        return await _page(request, head, TITLE_ERRORS[invalid.code], values, 422)
    target = request.app.url_path_for("invoice_page", public_no=head.row.public_no)
    return RedirectResponse(str(target), status_code=303)


async def invoice_pdf(request: Request) -> Response:
    head = await customer_order_head(request)
    customer_id = head.row.customer_id
    invoice = await calls.read(
        request, views.get_invoice_of, request.app.state.database, head.order_id
    )
    if invoice is None:
        raise HTTPException(404)
    database = request.app.state.database
    data = await calls.read(request, views.get_invoice_pdf, database, invoice.id, customer_id)
    headers = {
        "Content-Disposition": f'attachment; filename="invoice-{head.row.public_no}.pdf"',
        # The invoice names the buyer: never kept by a shared proxy or the browser's cache.
        "Cache-Control": "private, no-store",
    }
    return Response(data, media_type="application/pdf", headers=headers)


routes = [
    Route("/orders/{public_no:order_no}/invoice", invoice_page, name="invoice_page"),
    Route(
        "/orders/{public_no:order_no}/invoice",
        request_invoice,
        methods=["POST"],
        name="invoice_request",
    ),
    Route("/orders/{public_no:order_no}/invoice.pdf", invoice_pdf, name="invoice_pdf"),
]
