"""The staff invoice queue: issue by uploading the PDF, reject, and record 红冲 after refunds."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.invoices import service, views
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

PDF_ERRORS = {
    "not_pdf": N_("That file is not a PDF."),
    "too_large": N_("The PDF is larger than 5 MB."),
}


async def queue(request: Request, error: str | None = None, status: int = 200) -> Response:
    staff = await require_staff(request, Permission.ISSUE_INVOICES)
    rows = await calls.read(request, views.list_invoice_queue, request.app.state.database)
    context = {"staff": staff, "rows": rows, "error": error}
    return render(request, "admin/invoices.html", context, status_code=status)


async def issue(request: Request) -> Response:
    staff = await require_staff(request, Permission.ISSUE_INVOICES)
    limit = service.PDF_MAX_BYTES
    async with request.form(max_files=1, max_fields=3, max_part_size=limit + 1024) as form:
        upload = form.get("pdf")
        # Read one byte past the limit so the service sees an oversize file as oversize.
        data = await upload.read(limit + 1) if isinstance(upload, UploadFile) else b""
    invoice_id, actor = request.path_params["invoice_id"], staff.actor(client_ip(request))
    try:
        await calls.write(
            request,
            service.issue_invoice_with_pdf,
            request.app.state.database,
            invoice_id,
            data,
            actor,
        )
    except service.PdfRefused as refused:
        return await queue(request, PDF_ERRORS[refused.code], 422)
    return redirect(request, "admin_invoices")


async def reject(request: Request) -> Response:
    staff = await require_staff(request, Permission.ISSUE_INVOICES)
    async with request.form(max_files=0, max_fields=3) as form:
        reason = form_text(form, "reason", 200)
    invoice_id, actor = request.path_params["invoice_id"], staff.actor(client_ip(request))
    try:
        database = request.app.state.database
        await calls.write(request, service.reject_invoice, database, invoice_id, reason, actor)
    except service.InvoiceInvalid:
        return await queue(request, N_("Say why the invoice is rejected."), 422)
    return redirect(request, "admin_invoices")


async def reversed_(request: Request) -> Response:
    staff = await require_staff(request, Permission.ISSUE_INVOICES)
    invoice_id, actor = request.path_params["invoice_id"], staff.actor(client_ip(request))
    database = request.app.state.database
    await calls.write(request, service.record_reversal, database, invoice_id, actor)
    return redirect(request, "admin_invoices")


async def pdf(request: Request) -> Response:
    await require_staff(request, Permission.ISSUE_INVOICES)
    invoice_id = request.path_params["invoice_id"]
    data = await calls.read(
        request, views.get_invoice_pdf, request.app.state.database, invoice_id, None
    )
    headers = {"Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"'}
    return Response(data, media_type="application/pdf", headers=headers)


routes = [
    Route("/invoices", queue, name="admin_invoices"),
    Route("/invoices/{invoice_id:id}/issue", issue, methods=["POST"], name="admin_issue_invoice"),
    Route(
        "/invoices/{invoice_id:id}/reject", reject, methods=["POST"], name="admin_reject_invoice"
    ),
    Route(
        "/invoices/{invoice_id:id}/reversed",
        reversed_,
        methods=["POST"],
        name="admin_record_invoice_reversal",
    ),
    Route("/invoices/{invoice_id:id}/pdf", pdf, name="admin_invoice_pdf"),
]
