"""拦截退回 from the staff order page: the in-transit service, the Kuaidi100 emulator behind."""

# The in-transit tests' fixtures (the Kuaidi100 emulator and the app wired to it) are
# imported, not copied; their names are then test arguments, which ruff sees as shadowing.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest

from backend.staff.models import Role
from tests.factories import make_order
from tests.portal.helpers import csrf_token, staff_login
from tests.portal.test_in_transit_refund_routes import (  # noqa: F401
    WAYBILL,
    emulator,
    page_path,
    refunds_of,
    requests_of,
    shipped_order,
    transit_settings,
    web,
)
from tests.portal.test_webhooks import run_worker


def staff_intercept(web, order_id, data):
    page = f"/admin/orders/{order_id}"
    return web.post(
        f"{page}/intercept",
        data={**data, "csrf_token": csrf_token(web, page)},
        follow_redirects=False,
    )


def parcel_field(web, order_id):
    found = re.search(r'name="shipment" value="(\d+)"', web.get(f"/admin/orders/{order_id}").text)
    return found.group(1) if found else None


def test_support_intercepts_a_parcel_and_the_carrier_and_the_customer_hear_of_it(
    web, database, transit_settings, emulator
):
    order = shipped_order(web, database, transit_settings, emulator)
    staff_login(web, database, Role.SUPPORT, name="客服小王")
    shipment = parcel_field(web, order.id)
    assert shipment is not None
    done = staff_intercept(web, order.id, {"shipment": shipment, "reason": "changed_mind"})
    assert done.headers["location"].endswith("?notice=intercept_asked#intercept")
    assert "已发起拦截" in web.get(done.headers["location"]).text
    run_worker(database, transit_settings)
    [record] = emulator.intercepts
    assert record.param["interceptType"] == "RETURN_SEND_ADDR"
    assert record.param["kuaidinum"] == WAYBILL
    [request] = requests_of(database)
    assert request.status == "intercept_asked" and request.method == "intercept"
    assert refunds_of(database, order.id) == []  # the money waits for the parcel to turn
    assert parcel_field(web, order.id) is None  # asked: no second form
    again = staff_intercept(web, order.id, {"shipment": shipment, "reason": "changed_mind"})
    assert again.headers["location"].endswith("?notice=intercept_already_asked#intercept")
    assert len(requests_of(database)) == 1
    assert "拦截" in web.get(page_path(order)).text  # the customer's in-transit page


@pytest.mark.parametrize(
    ("data", "notice"),
    [
        ({"reason": "changed_mind"}, "intercept_parcel_unknown"),
        ({"shipment": "x", "reason": "changed_mind"}, "intercept_parcel_unknown"),
        ({"shipment": "999999", "reason": "changed_mind"}, "intercept_parcel_unknown"),
        ({"shipment": "1", "reason": "<script>"}, "intercept_reason_known"),
    ],
)
def test_garbage_is_a_notice_and_nothing_is_asked(
    web, database, transit_settings, emulator, data, notice
):
    order = shipped_order(web, database, transit_settings, emulator)
    staff_login(web, database, Role.SUPPORT)
    answer = staff_intercept(web, order.id, data)
    assert answer.headers["location"].endswith(f"?notice={notice}#intercept")
    assert requests_of(database) == []


def test_an_order_with_nothing_on_the_road_is_refused(web, database):
    order = make_order(database)
    staff_login(web, database, Role.SUPPORT)
    assert 'id="intercept"' not in web.get(f"/admin/orders/{order.id}").text
    answer = staff_intercept(web, order.id, {"shipment": "1", "reason": "changed_mind"})
    assert "?notice=intercept_" in answer.headers["location"]
    assert requests_of(database) == []


@pytest.mark.parametrize("role", [Role.WAREHOUSE])
def test_roles_without_review_refunds_get_403(web, database, transit_settings, emulator, role):
    order = shipped_order(web, database, transit_settings, emulator)
    staff_login(web, database, role)
    assert parcel_field(web, order.id) is None
    assert (
        staff_intercept(web, order.id, {"shipment": "1", "reason": "changed_mind"}).status_code
        == 403
    )
    assert requests_of(database) == []
