"""The rules page (规则设置): supervisors and admins tune the rules, each save a new version."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.rulebook.fields import FIELDS, RulesInvalid
from backend.rulebook.service import VersionConflict, in_force, list_versions, save_version
from backend.staff.permissions import Permission, StaffIdentity
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import client_ip
from portal.staff_auth import require_staff

# key -> (what it is, in which unit), in the page's language.
WORDS = {
    "refunds.max_auto_amount_fen": (N_("Refunds approved by the rules up to"), N_("yuan")),
    "refunds.return_window_days": (N_("Return window after delivery"), N_("days")),
    "refunds.max_recent_refunds": (
        N_("Earlier refunds (30 days) above which a person reviews"),
        N_("refunds"),
    ),
    "addresses.free_edit_window": (
        N_("Customers change the address themselves for"),
        N_("hours after payment"),
    ),
    "addresses.max_customer_edits": (N_("Address changes a customer may make"), N_("per order")),
    "addresses.auto_approve_after": (
        N_("An address request nobody answers is approved after"),
        N_("hours"),
    ),
    "intake.high_value_fen": (
        N_("Orders from this amount need a second reviewer"),
        N_("yuan"),
    ),
    "profit.shipping_fen_per_parcel": (N_("Shipping cost per parcel, for profit"), N_("yuan")),
    "profit.loss_below_fen": (
        N_("Orders earning less than this are listed as loss-making"),
        N_("yuan"),
    ),
    "refunds.return_address": (
        N_("Return address (name, phone, address) shown to customers"),
        N_("text"),
    ),
    "notices.quiet_hours": (
        N_("No messages to customers between (Shanghai time, e.g. 22:00-08:00)"),
        N_("hours of the day"),
    ),
    "operations.sla_minutes": (
        N_(
            "How long an order may wait in each state before it is late "
            "(pending_payment, paid, picking, packed, partially_shipped, after_sale)"
        ),
        N_("working minutes"),
    ),
    "operations.working_hours": (
        N_("Working hours, when SLA clocks run (Shanghai time, e.g. 9-18)"),
        N_("hours of the day"),
    ),
    "notices.sms_templates": (
        N_("SMS template codes by message (e.g. shipped=SMS_123456,delivered=SMS_234567)"),
        N_("over the settings'"),
    ),
    "notices.wechat_templates": (
        N_("WeChat official account template ids by message (e.g. shipped=AbC123…)"),
        N_("over the settings'"),
    ),
    "notices.miniprogram_templates": (
        N_("WeChat mini-program template ids by message"),
        N_("over the settings'"),
    ),
    "profit.commission_bp": (
        N_("Channel commissions, for profit (e.g. taobao=5,jd=8.5)"),
        N_("percent"),
    ),
}
PROBLEMS = {
    "yuan": N_("Type an amount in yuan, e.g. 100 or 99.50."),
    "whole_number": N_("Type a whole number."),
    "out_of_range": N_("Outside what this rule allows (%(low)s to %(high)s)."),
    "commissions": N_("Write channel=percent pairs, e.g. taobao=5,jd=8.5."),
    "too_long": N_("At most %(high)s characters."),
    "time_range": N_("Write two times of day, e.g. 22:00-08:00."),
    "templates": N_(
        "Write message=code pairs, e.g. shipped=SMS_123456; messages: shipped, delivered, "
        "out_for_delivery, verification_code …"
    ),
    "hour_range": N_("Write two whole hours, e.g. 9-18."),
    "sla": N_("Write state=minutes pairs, e.g. paid=15,picking=120 (1 to 20160 minutes)."),
    "required": N_("This can't be empty."),
}
SAVED = N_("Saved as version %(version)s. Every page and job uses it within a minute.")
CONFLICT = N_(
    "Someone saved version %(version)s while you were editing. Its values are shown now; "
    "make your change again."
)


async def _page(
    request: Request,
    staff: StaffIdentity,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    message: tuple[str, dict[str, object]] | None = None,
    status_code: int = 200,
) -> Response:
    database, seed = request.app.state.database, request.app.state.rules.seed
    current = await calls.read(request, in_force, database, seed)
    versions = await calls.read(request, list_versions, database, staff.actor(client_ip(request)))
    return render(
        request,
        "admin/rules.html",
        {
            "staff": staff,
            "fields": FIELDS,
            "words": WORDS,
            "values": values or current.values,
            "problems": {k: PROBLEMS[v] for k, v in (problems or {}).items()},
            "version": current.version,
            "versions": versions,
            "message": message,
            "saved": request.query_params.get("saved", "")[:6],
        },
        status_code=status_code,
    )


async def rules_page(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_RULES)
    return await _page(request, staff)


async def save(request: Request) -> Response:
    staff = await require_staff(request, Permission.MANAGE_RULES)
    async with request.form(max_files=0, max_fields=len(FIELDS) + 4) as form:
        values = {field.key: form_text(form, field.key, 200) for field in FIELDS}
        based_on_text = form_text(form, "based_on", 8)
        note = form_text(form, "note", 400)
    based_on = int(based_on_text) if based_on_text.isdigit() else -1
    try:
        version = await calls.write(
            request,
            save_version,
            request.app.state.database,
            values,
            based_on,
            note,
            staff.actor(client_ip(request)),
            request.app.state.rules.seed,
        )
    except RulesInvalid as invalid:
        return await _page(request, staff, values, invalid.problems, status_code=422)
    except VersionConflict as conflict:
        message: tuple[str, dict[str, object]] = (CONFLICT, {"version": conflict.current})
        return await _page(request, staff, message=message, status_code=409)
    request.app.state.rules.forget()  # this process at once; the others within a minute
    target = request.url_for("admin_rules").path
    return RedirectResponse(f"{target}?saved={version}", status_code=303)


routes = [
    Route("/rules", rules_page, name="admin_rules"),
    Route("/rules", save, methods=["POST"], name="admin_save_rules"),
]
