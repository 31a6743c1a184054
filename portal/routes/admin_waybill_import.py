"""The staff page that imports a CSV/Excel file of waybills, showing what became of each row."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.fulfilment.waybill_import import WaybillFileRefused, import_waybill_file
from backend.staff.permissions import Permission
from portal import calls
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff
from portal.waybill_words import OUTCOMES, reason_text

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
FILE_PROBLEMS = {
    "missing_column": N_(
        "The file needs the columns 订单号, 快递公司 and 运单号 in its first row."
    ),
    "empty_file": N_("The file is empty."),
    "too_many_rows": N_("The file has too many rows; split it into files of at most 5000."),
    "unsupported_file_type": N_("Upload a .csv or .xlsx file."),
    "unreadable_file": N_("The file could not be read as CSV (UTF-8 or GBK) or Excel."),
}


async def import_page(
    request: Request, result: object = None, problem: str | None = None, status: int = 200
) -> Response:
    staff = await require_staff(request, Permission.RECORD_WAYBILLS)
    context = {
        "staff": staff,
        "result": result,
        "problem": problem,
        "outcomes": OUTCOMES,
        "reason_text": reason_text,
    }
    return render(request, "admin/waybill_import.html", context, status_code=status)


async def import_waybills(request: Request) -> Response:
    staff = await require_staff(request, Permission.RECORD_WAYBILLS)
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD_BYTES) as form:
        upload = form.get("file")
        name = (upload.filename or "") if isinstance(upload, UploadFile) else ""
        data = await upload.read(MAX_UPLOAD_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data or len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413 if data else 400)
    database, actor = request.app.state.database, staff.actor(client_ip(request), channel="import")
    try:
        result = await calls.write(request, import_waybill_file, database, name, data, actor)
    except WaybillFileRefused as refused:
        return await import_page(request, problem=FILE_PROBLEMS[refused.code], status=422)
    return await import_page(request, result)


routes = [
    Route("/waybills/import", import_page, name="admin_waybill_import"),
    Route(
        "/waybills/import", import_waybills, methods=["POST"], name="admin_waybill_import_upload"
    ),
]
