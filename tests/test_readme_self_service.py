"""The README's table of what a customer can do, by order state, against the rules in the code."""

from pathlib import Path

from backend.exchanges.service import EXCHANGEABLE
from backend.invoices.service import INVOICEABLE_ORDER_STATES
from backend.orders.address_policy import EDITABLE_STATUSES, INTERCEPTABLE_STATUSES
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import PaymentMethod
from backend.refunds.cancel_lifecycle import CancelPath
from backend.refunds.cancellation import decide_path
from backend.refunds.in_transit import ON_THE_ROAD_ORDERS
from backend.refunds.service import RETURNABLE
from backend.support.service import AWAITING_SHIPMENT

README = Path(__file__).resolve().parent.parent / "README.md"


def rows() -> dict[OrderStatus, list[str]]:
    table = README.read_text(encoding="utf-8").split("## What a customer can do, by order state")[1]
    found = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            found[OrderStatus(cells[0].split("`")[1])] = cells[1:]
    return found


def test_every_state_has_a_row_that_matches_the_rules():
    table = rows()
    assert set(table) == set(OrderStatus)
    cancel_words = {
        CancelPath.UNPAID: "at once",
        CancelPath.PAID: "at once, refunded",
        CancelPath.PACKED: "waybill voided, refunded",
        CancelPath.IN_TRANSIT: "intercept",
        CancelPath.NONE: "",
    }
    for status, row in table.items():
        cancel, address, remind, receipt, in_transit, returns, exchange, invoice = row
        assert cancel == cancel_words[decide_path(status, PaymentMethod.WECHAT_PAY)], status
        assert (in_transit == "✓") == (status in ON_THE_ROAD_ORDERS), status
        assert exchange.startswith("✓") == (status in EXCHANGEABLE), status
        expected_address = (
            "edit"
            if status in EDITABLE_STATUSES
            else "redirect"
            if status in INTERCEPTABLE_STATUSES
            else ""
        )
        assert address == expected_address, status
        # 催发货 waits for the promise to pass, but only while the order waits to ship.
        assert (remind == "✓") == (status in AWAITING_SHIPMENT and status != OrderStatus.SHIPPED)
        assert (receipt == "✓") == (status == OrderStatus.DELIVERED), status
        assert returns.startswith("✓") == (status in RETURNABLE), status
        assert (invoice == "✓") == (status in INVOICEABLE_ORDER_STATES), status
