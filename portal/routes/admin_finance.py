"""Finance downloads and channel reconciliation reports for staff."""

from __future__ import annotations

from datetime import date

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.actors import Actor
from backend.clock import utcnow
from backend.finance_export import export_month_csv
from backend.orders import intake, inventory, reconciliation, warehouses
from backend.orders.models import SalesChannel
from backend.staff.permissions import Permission
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import redirect, render
from portal.routes.customer_access import client_ip
from portal.rules_in_force import rules_of
from portal.staff_auth import require_staff

MAX_EXPORT_BYTES = 5 * 1024 * 1024


async def finance_csv(request: Request) -> Response:
    staff = await require_staff(request, Permission.EXPORT_FINANCE)
    month = request.query_params.get("month") or utcnow().strftime("%Y-%m")
    try:
        year, number = (int(part) for part in month.split("-"))
        date(year, number, 1)
    except ValueError:
        raise HTTPException(400) from None
    actor = staff.actor(client_ip(request))
    database = request.app.state.database
    text = await calls.write(request, export_month_csv, database, year, number, actor)
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="finance-{year}-{number:02d}.csv"'},
    )


async def reports(request: Request, error: str | None = None, status: int = 200) -> Response:
    staff = await require_staff(request, Permission.RECONCILE_CHANNELS)
    found = await calls.read(request, reconciliation.list_reports, request.app.state.database)
    return render(
        request,
        "admin/reconciliation.html",
        {
            "staff": staff,
            "reports": found,
            "channels": list(SalesChannel),
            "error": error,
            "today": utcnow().date().isoformat(),
            "can_export_finance": staff.can(Permission.EXPORT_FINANCE),
        },
        status_code=status,
    )


async def upload_export(request: Request) -> Response:
    staff = await require_staff(request, Permission.RECONCILE_CHANNELS)
    actor, database = staff.actor(client_ip(request)), request.app.state.database
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_EXPORT_BYTES) as form:
        channel, day_text = form_text(form, "channel", 20), form_text(form, "day", 10)
        upload = form.get("export")
        data = await upload.read(MAX_EXPORT_BYTES + 1) if isinstance(upload, UploadFile) else b""
    try:
        day = date.fromisoformat(day_text)
        text = data.decode("utf-8-sig")
        if channel not in {str(c) for c in SalesChannel} or len(data) > MAX_EXPORT_BYTES:
            raise ValueError(channel)
        compare = reconciliation.reconcile_export
        await calls.write(request, compare, database, channel, day, text, actor)
    except (ValueError, reconciliation.ExportUnreadable):
        return await reports(
            request,
            N_("The export could not be read: it needs the columns 订单号, 状态 and 实付金额."),
            422,
        )
    return redirect(request, "admin_reconciliation")


async def import_page(request: Request, result: object = None, status: int = 200) -> Response:
    staff = await require_staff(request, Permission.IMPORT_ORDERS)
    return render(
        request, "admin/import.html", {"staff": staff, "result": result}, status_code=status
    )


async def import_orders(request: Request) -> Response:
    staff = await require_staff(request, Permission.IMPORT_ORDERS)
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_EXPORT_BYTES) as form:
        upload = form.get("file")
        name = (upload.filename or "") if isinstance(upload, UploadFile) else ""
        data = await upload.read(MAX_EXPORT_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data or len(data) > MAX_EXPORT_BYTES:
        raise HTTPException(413 if data else 400)
    result = await calls.write(
        request,
        intake.import_order_file,
        request.app.state.database,
        name,
        data,
        rules_of(request).intake,
        staff.actor(client_ip(request), channel="import"),
    )
    return await import_page(request, result, 422 if result.errors else 200)


async def sku_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    staff = await require_staff(request, Permission.MANAGE_SKUS)
    costs = staff.can(Permission.VIEW_COSTS)
    database = request.app.state.database
    skus = await calls.read(request, inventory.list_skus, database, include_costs=costs)
    known = await calls.read(request, warehouses.list_warehouses, database)
    return render(
        request,
        "admin/skus.html",
        {
            "staff": staff,
            "skus": skus,
            "warehouses": known,
            "error": error,
            "channels": list(SalesChannel),
            "can_view_costs": costs,
        },
        status_code=status,
    )


def _yuan_to_fen(text: str) -> int:
    yuan, _, cents = text.partition(".")
    if not yuan.isdigit() or not (cents == "" or (cents.isdigit() and len(cents) <= 2)):
        raise inventory.SkuInvalid(text)
    return int(yuan) * 100 + int(cents.ljust(2, "0") or 0)


def _cost(form: FormData) -> int | None:
    """No cost field (the form of staff who cannot see costs): the stored cost is kept."""
    text = form_text(form, "cost_yuan", 12)
    return _yuan_to_fen(text) if text else None


def _variant(form: FormData) -> inventory.SkuVariant | None:
    """换货 swaps between SKUs of one product code; no code: the SKU's variant is kept."""
    product_code = form_text(form, "product_code", 64)
    if not product_code:
        return None
    price = form_text(form, "price_yuan", 12)
    label = form_text(form, "variant_label", 64)
    return inventory.SkuVariant(product_code, label, _yuan_to_fen(price) if price else None)


async def _save_or_map(request: Request, form: FormData, actor: Actor) -> None:
    database, code = request.app.state.database, form_text(form, "code", 64)
    if form_text(form, "channel_sku", 64):
        channel, channel_sku = form_text(form, "channel", 20), form_text(form, "channel_sku", 64)
        await calls.write(
            request, inventory.map_channel_sku, database, channel, channel_sku, code, actor
        )
        return
    stock = form_text(form, "on_hand", 9)
    name, on_hand = form_text(form, "name", 200), int(stock) if stock.isdigit() else -1
    warehouse = form_text(form, "warehouse", 32) or None
    await calls.write(
        request,
        inventory.save_sku,
        database,
        code,
        name,
        on_hand,
        _cost(form),
        actor,
        warehouse,
        _variant(form),
    )


async def save_sku(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_SKUS)
    form = await request.form()
    try:
        await _save_or_map(request, form, staff.actor(client_ip(request)))
    except inventory.SkuInvalid:
        return await sku_page(request, N_("Check the code, name, stock and cost."), 422)
    return redirect(request, "admin_skus")


def _warehouse_fields(form: FormData) -> warehouses.WarehouseFields:
    priority = form_text(form, "priority", 4) or "100"
    if not priority.isdigit():
        raise warehouses.WarehouseInvalid(priority)
    serves = form_text(form, "serves", 300).replace("，", ",").replace("、", ",")
    return warehouses.WarehouseFields(
        code=form_text(form, "code", 32),
        name=form_text(form, "name", 100),
        province=form_text(form, "province", 32),
        serves=tuple(name.strip() for name in serves.split(",") if name.strip()),
        priority=int(priority),
        active=form_text(form, "active", 1) == "1",
        contact_name=form_text(form, "contact_name", 64),
        phone=form_text(form, "phone", 20),
        city=form_text(form, "city", 32),
        district=form_text(form, "district", 32),
        street=form_text(form, "street", 200),
    )


async def save_warehouse(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_SKUS)
    form = await request.form()
    try:
        fields = _warehouse_fields(form)
        await calls.write(
            request,
            warehouses.save_warehouse,
            request.app.state.database,
            fields,
            staff.actor(client_ip(request)),
        )
    except warehouses.WarehouseInvalid:
        return await sku_page(
            request, N_("Check the warehouse code, name, regions and priority."), 422
        )
    return redirect(request, "admin_skus")


routes = [
    Route("/skus", sku_page, name="admin_skus"),
    Route("/skus", save_sku, methods=["POST"], name="admin_save_sku"),
    Route("/warehouses", save_warehouse, methods=["POST"], name="admin_save_warehouse"),
    Route("/import", import_page, name="admin_import"),
    Route("/import", import_orders, methods=["POST"], name="admin_import_upload"),
    Route("/finance.csv", finance_csv, name="admin_finance_csv"),
    Route("/reconciliation", reports, name="admin_reconciliation"),
    Route("/reconciliation", upload_export, methods=["POST"], name="admin_reconciliation_upload"),
]
