"""The customer's 换货 page: pick an in-stock variant, post the old unit back, see both legs."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.db import Database
from backend.exchanges import return_leg, service, views
from backend.exchanges.lifecycle import ExchangeTransitionNotAllowed
from backend.exchanges.rules import ExchangeCostsMore
from backend.logistics.carriers.names import CARRIER_NAMES
from backend.logistics.service import DuplicateWaybill
from backend.refunds.rules import RefundRules
from backend.tracking_page import TrackingHead
from portal import calls
from portal.forms import form_text
from portal.i18n import N_
from portal.rendering import render
from portal.routes.customer_access import customer_actor, customer_order_head
from portal.rules_in_force import rules_of

# Each refusal in the customer's words; the page is shown again with it, nothing was stored.
REFUSALS: dict[type[Exception], tuple[int, str]] = {
    service.VariantOutOfStock: (
        409,
        N_("Sorry, that size or colour has just sold out. Please pick another one."),
    ),
    ExchangeCostsMore: (
        409,
        N_("That variant costs more than you paid. Please contact customer service for it."),
    ),
    service.VariantNotOfProduct: (422, N_("Please pick another variant of the same product.")),
    service.AlreadyExchanged: (409, N_("This item has already been exchanged.")),
    service.ExchangeNotAllowed: (
        409,
        N_("An exchange is possible within the return window after delivery."),
    ),
    service.ExchangeWaybillInvalid: (
        422,
        N_("Check the courier and the waybill number of the parcel you sent."),
    ),
    DuplicateWaybill: (409, N_("That waybill number is already in use.")),
    ExchangeTransitionNotAllowed: (
        409,
        N_("This exchange has moved on meanwhile; the page now shows where it is."),
    ),
}


def _load(
    database: Database, order_id: int, refund_rules: RefundRules
) -> tuple[views.ExchangeForm, list[views.ExchangeView]]:
    form = views.get_exchange_form(database, order_id, refund_rules)
    return form, views.list_order_exchanges(database, order_id)


async def _page(
    request: Request, head: TrackingHead, error: str | None = None, status: int = 200
) -> Response:
    rules = rules_of(request).refunds
    form, exchanges = await calls.read(
        request, _load, request.app.state.database, head.order_id, rules
    )
    context = {
        "public_no": head.row.public_no,
        "form": form,
        "exchanges": exchanges,
        "carriers": sorted(CARRIER_NAMES),
        "return_address": rules_of(request).refunds.return_address,
        "error": error,
    }
    return render(request, "customer/exchange.html", context, status_code=status)


def _back(head: TrackingHead, request: Request) -> Response:
    target = request.app.url_path_for("exchange_page", public_no=head.row.public_no)
    return RedirectResponse(str(target), status_code=303)


async def _act(request: Request, head: TrackingHead, verb, *args, **kwargs) -> Response:
    try:
        await calls.write(request, verb, request.app.state.database, *args, **kwargs)
    except tuple(REFUSALS) as refused:
        status, message = REFUSALS[type(refused)]
        return await _page(request, head, message, status)
    return _back(head, request)


async def exchange_page(request: Request) -> Response:
    head = await customer_order_head(request)
    return await _page(request, head)


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise HTTPException(400)
    return int(text)


async def request_exchange(request: Request) -> Response:
    head = await customer_order_head(request)
    customer_id = head.row.customer_id
    async with request.form(max_files=0, max_fields=4) as form:
        line_id, sku_id = form_text(form, "line", 12), form_text(form, "sku", 12)
    if not sku_id:
        return await _page(request, head, N_("Please pick the size or colour you want."), 422)
    rules = rules_of(request)
    actor = customer_actor(request, head.row.public_no)
    return await _act(
        request,
        head,
        service.request_exchange,
        head.order_id,
        customer_id,
        _number(line_id),
        _number(sku_id),
        actor,
        rules=rules.exchanges,
        refund_rules=rules.refunds,
    )


async def send_back(request: Request) -> Response:
    head = await customer_order_head(request)
    customer_id = head.row.customer_id
    async with request.form(max_files=0, max_fields=4) as form:
        carrier, tracking_no = form_text(form, "carrier", 32), form_text(form, "tracking_no", 60)
    actor = customer_actor(request, head.row.public_no)
    exchange_id = request.path_params["exchange_id"]
    return await _act(
        request, head, return_leg.send_back, exchange_id, customer_id, carrier, tracking_no, actor
    )


async def cancel(request: Request) -> Response:
    head = await customer_order_head(request)
    customer_id = head.row.customer_id
    actor = customer_actor(request, head.row.public_no)
    exchange_id = request.path_params["exchange_id"]
    return await _act(request, head, service.cancel_exchange, exchange_id, customer_id, actor)


routes = [
    Route("/orders/{public_no:order_no}/exchange", exchange_page, name="exchange_page"),
    Route(
        "/orders/{public_no:order_no}/exchange",
        request_exchange,
        methods=["POST"],
        name="exchange_request",
    ),
    Route(
        "/orders/{public_no:order_no}/exchange/{exchange_id:id}/waybill",
        send_back,
        methods=["POST"],
        name="exchange_send_back",
    ),
    Route(
        "/orders/{public_no:order_no}/exchange/{exchange_id:id}/cancel",
        cancel,
        methods=["POST"],
        name="exchange_cancel",
    ),
]
