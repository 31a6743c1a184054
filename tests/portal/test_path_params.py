"""Every path parameter, from the route table itself: garbage answers 404, never 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from backend.orders.lifecycle import OrderStatus
from backend.staff.models import Role
from portal.app import create_app
from portal.paths import MAX_ID, IdConvertor, decimal_up_to
from tests.factories import make_order
from tests.portal.helpers import open_short_link, staff_login

# Not a row id: out of any integer column's range, signed, padded, or not plain ASCII digits
# (int() alone takes " 1", "1_000" and a full-width "１").
NOT_IDS = [
    "0",
    "-1",
    "+1",
    "01",
    "1x",
    "x1",
    "1.0",
    "1e3",
    "1_000",
    " 1",
    "１",
    str(MAX_ID + 1),
    "9223372036854775808",
    "99999999999999999999",
    "9" * 400,
]
# Not a plausible value for any parameter: control characters, spaces, markup, far too long.
NOT_ANYTHING = ["\x00", "\xff", "a b", "a\nb", "<b>", "订单", "x" * 300]
PRINCIPALS = ["anonymous", "customer", "staff"]


def routes_with_parameters(routes, prefix: str = "") -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Mount) and getattr(route, "routes", None):
            yield from routes_with_parameters(route.routes, prefix + route.path)
        elif isinstance(route, Route) and route.param_convertors:
            yield prefix + route.path, route


def fill(path: str, values: dict[str, str]) -> str:
    """The route's path with each {name} or {name:convertor} replaced, percent-encoded."""
    return re.sub(
        r"{([a-zA-Z_]+)(?::[a-z_]+)?}", lambda m: quote(values[m.group(1)], safe=""), path
    )


@pytest.fixture
def visitors(settings, database) -> Iterator[dict[str, TestClient]]:
    order = make_order(database, status=OrderStatus.DELIVERED)
    app = create_app(settings, database)
    # A 5xx must come back as an answer to count, not as the server's exception.
    clients = {name: TestClient(app, raise_server_exceptions=False) for name in PRINCIPALS}
    for client in clients.values():
        client.__enter__()
    try:
        open_short_link(clients["customer"], database, order.id)
        staff_login(clients["staff"], database, Role.ADMIN)
        for name, client in clients.items():
            client.get("/lookup")  # the CSRF cookie, echoed in a header by every POST below
            client.headers["x-csrf-token"] = client.cookies["portal_csrf"]
            client.plausible = {"public_no": order.public_no}  # type: ignore[attr-defined]
            client.principal = name  # type: ignore[attr-defined]
        yield clients
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def probe(client: TestClient, values: list[str], ids_only: bool) -> list[tuple[str, str, int]]:
    """(method, url, status) for every route with a parameter, each in turn set to each value."""
    answers = []
    for path, route in routes_with_parameters(client.app.routes):
        for name in route.param_convertors:
            if ids_only and not name.endswith("_id"):
                continue
            for value in values:
                filled = {key: client.plausible.get(key, "1") for key in route.param_convertors}
                url = fill(path, filled | {name: value})
                for method in sorted(route.methods - {"HEAD"}):
                    answer = client.request(method, url, follow_redirects=False)
                    answers.append((method, url[:80], answer.status_code))
    return answers


def not_found(answers: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The answers that are not 404 (or 405, a wrong method): should be none."""
    return [answer for answer in answers if answer[2] not in (404, 405)]


def test_every_id_parameter_is_declared_with_the_id_convertor(client):
    routes = list(routes_with_parameters(client.app.routes))
    assert len(routes) >= 20
    for path, route in routes:
        for name, convertor in route.param_convertors.items():
            if name.endswith("_id"):
                assert isinstance(convertor, IdConvertor), f"{path}: {{{name}}} is not {{:id}}"


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_an_implausible_id_in_any_path_answers_404(visitors, principal):
    assert not_found(probe(visitors[principal], NOT_IDS, ids_only=True)) == []


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_garbage_in_any_path_parameter_answers_404(visitors, principal):
    assert not_found(probe(visitors[principal], NOT_ANYTHING, ids_only=False)) == []


def test_a_plausible_id_that_does_not_exist_is_a_404_page_and_never_a_5xx(visitors):
    answers = probe(visitors["staff"], [str(MAX_ID), "2000000000", "123456789"], ids_only=True)
    assert not_found([answer for answer in answers if answer[0] == "GET"]) == []
    assert [answer for answer in answers if answer[2] >= 500] == []


def test_the_photo_url_from_the_issue_answers_404(visitors):
    customer = visitors["customer"]
    public_no = customer.plausible["public_no"]
    answer = customer.get(f"/orders/{public_no}/return/photos/99999999999999999999")
    assert answer.status_code == 404
    assert "没有找到该页面或订单" in answer.text


@pytest.mark.parametrize("limit", [1, 9, 10, 19, 20, 99, 100, 555, 1000])
def test_the_id_pattern_admits_exactly_one_to_its_limit(limit):
    pattern = re.compile(f"(?:{decimal_up_to(limit)})")
    admitted = [n for n in range(2 * limit + 20) if pattern.fullmatch(str(n))]
    assert admitted == list(range(1, limit + 1))


def test_the_id_pattern_stops_at_the_largest_postgresql_integer():
    pattern = re.compile(f"(?:{IdConvertor.regex})")
    edge = range(MAX_ID - 1_000, MAX_ID + 1_000)
    assert [n for n in edge if pattern.fullmatch(str(n))] == list(range(MAX_ID - 1_000, MAX_ID + 1))
    assert pattern.fullmatch("1999999999") and not pattern.fullmatch("2999999999")
