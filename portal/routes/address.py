"""The customer's address change: the form, the paste box, the one-time code, the outcome."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.clock import utcnow
from backend.orders import address_changes as changes
from backend.orders.address_fields import AddressFieldInvalid
from backend.orders.address_parsing import parse_address
from backend.orders.address_policy import AddressDecision
from backend.orders.divisions import list_cities, list_districts, list_provinces
from backend.orders.masking import mask_phone
from backend.orders.models import ChangeKind, ChangeStatus
from backend.tracking_page import TrackingHead
from portal import calls
from portal.forms import clean_text, form_text
from portal.i18n import N_
from portal.rendering import is_htmx, render
from portal.routes.customer_access import customer_actor, customer_order_head
from portal.rules_in_force import rules_of

FIELDS = ("recipient_name", "phone", "province", "city", "district", "street")
FIELD_LIMITS = {
    "recipient_name": 40,
    "phone": 30,
    "province": 32,
    "city": 32,
    "district": 32,
    "street": 400,
}
MESSAGES = {
    "mobile_number_invalid": N_("Enter an 11-digit mainland mobile number."),
    "recipient_name_empty": N_("Enter the recipient's name."),
    "recipient_name_too_long": N_("The name is too long."),
    "recipient_name_forbidden_characters": N_("The name contains characters that are not allowed."),
    "street_too_short": N_("Enter the street and house number."),
    "street_too_long": N_("The street address is too long (120 characters at most)."),
    "street_control_characters": N_("The street address contains characters that are not allowed."),
    "street_contains_markup": N_("The street address contains characters that are not allowed."),
    "unknown_division": N_("Choose the province, city and district from the lists."),
}


def _decision(request: Request, head: TrackingHead) -> AddressDecision:
    return head.address_decision(utcnow(), rules_of(request).addresses)


def _is_intercept(request: Request, decision: AddressDecision) -> bool:
    return decision.can_request_intercept


def _values(form: FormData | None = None) -> dict[str, str]:
    return {name: form_text(form, name, FIELD_LIMITS[name]) if form else "" for name in FIELDS}


def _form(
    request: Request,
    head: TrackingHead,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    message: str | None = None,
) -> Response:
    decision = _decision(request, head)
    return render(
        request,
        "customer/address_edit.html",
        {
            "public_no": head.row.public_no,
            "values": values,
            "errors": errors or {},
            "message": message,
            "intercept": _is_intercept(request, decision),
            "decision": decision,
            "now": utcnow(),
            "provinces": list_provinces(),
            "cities": list_cities(values["province"]),
            "districts": list_districts(values["province"], values["city"]),
        },
        partial="customer/_address_form.html",
        status_code=status,
    )


async def edit(request: Request) -> Response:
    head = await customer_order_head(request)
    decision = _decision(request, head)
    if not (decision.can_edit or decision.can_request_intercept):
        return RedirectResponse(request.url_for("tracking", public_no=head.row.public_no).path, 303)
    return _form(request, head, _values())


async def parse(request: Request) -> Response:
    """The paste box: text like 张三 13800138000 浙江省杭州市西湖区文三路100号 into fields."""
    head = await customer_order_head(request)
    form = await request.form()
    parsed = parse_address(form_text(form, "pasted", 1000, multiline=True))
    values = _values(form)
    for name in FIELDS:
        found = getattr(parsed, name)
        if found:
            values[name] = found
    message = N_("Check the fields below.") if parsed.unresolved else None
    return _form(request, head, values, message=message)


async def divisions(request: Request) -> Response:
    """The three cascading selects, re-rendered when the province or city changes."""
    province = clean_text(request.query_params.get("province", ""), 32)
    city = clean_text(request.query_params.get("city", ""), 32)
    cities = list_cities(province)
    city = city if city in cities else ""
    return render(
        request,
        "customer/_division_selects.html",
        {
            "values": {"province": province, "city": city, "district": ""},
            "errors": {},
            "provinces": list_provinces(),
            "cities": cities,
            "districts": list_districts(province, city),
        },
    )


async def submit(request: Request) -> Response:
    head = await customer_order_head(request)
    form = await request.form()
    values = _values(form)
    try:
        address = changes.validate_address(*(values[name] for name in FIELDS))
    except (AddressFieldInvalid, changes.UnknownDivision) as error:
        return _form(request, head, values, errors={error.field: MESSAGES[error.code]}, status=422)
    decision = _decision(request, head)
    kind = ChangeKind.INTERCEPT if _is_intercept(request, decision) else ChangeKind.EDIT
    started = await calls.write(
        request,
        changes.start_address_change,
        request.app.state.database,
        head.order_id,
        address,
        customer_actor(request, head.row.public_no),
        rules_of(request).addresses,
        kind=kind,
    )
    return _code_form(request, head, started.change_id, mask_phone(started.sent_to))


def _code_form(
    request: Request,
    head: TrackingHead,
    change_id: int,
    sent_to: str,
    *,
    error: str | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    return render(
        request,
        "customer/address_code.html",
        {
            "public_no": head.row.public_no,
            "change_id": change_id,
            "sent_to": sent_to,
            "error": error,
            **extra,
        },
        partial="customer/_address_code.html",
        status_code=status,
    )


async def confirm(request: Request) -> Response:
    head = await customer_order_head(request)
    form = await request.form()
    change_id_text = form_text(form, "change_id", 12)
    code = form_text(form, "code", 12)
    sent_to = form_text(form, "sent_to", 20)
    if not change_id_text.isdigit():
        raise HTTPException(400)
    change_id = int(change_id_text)
    try:
        outcome = await calls.write(
            request,
            changes.confirm_address_change,
            request.app.state.database,
            head.order_id,
            change_id,
            code,
            customer_actor(request, head.row.public_no),
            rules_of(request).addresses,
        )
    except changes.VerificationCodeWrong as wrong:
        return _code_form(
            request,
            head,
            change_id,
            sent_to,
            status=422,
            error=N_("That code is not right."),
            attempts_left=wrong.attempts_left,
        )
    notice = {ChangeStatus.APPLIED: "address_changed"}.get(
        outcome.status,
        (
            "intercept_requested"
            if _is_intercept(request, _decision(request, head))
            else "address_requested"
        ),
    )
    target = request.url_for("tracking", public_no=head.row.public_no).path + f"?notice={notice}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


routes = [
    Route("/orders/{public_no:order_no}/address", edit, name="address_edit"),
    Route("/orders/{public_no:order_no}/address", submit, methods=["POST"], name="address_submit"),
    Route(
        "/orders/{public_no:order_no}/address/parse", parse, methods=["POST"], name="address_parse"
    ),
    Route(
        "/orders/{public_no:order_no}/address/confirm",
        confirm,
        methods=["POST"],
        name="address_confirm",
    ),
    Route("/divisions", divisions, name="divisions"),
]
