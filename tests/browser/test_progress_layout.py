"""The progress steps at 390 px and 320 px, in Chinese and English: one line each, no overlap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from tests.browser.live import phone_context_options
from tests.browser.parcels import out_for_delivery, record_events, route_to_hangzhou, sms_link
from tests.browser.test_accessibility import first_line_id
from tests.factories import make_order

pytestmark = pytest.mark.browser

# Each label's box, its number of line boxes, and the box of the card it sits in.
MEASURE = """(list) => {
  const card = list.closest('.card').getBoundingClientRect();
  const style = getComputedStyle(list.closest('.card'));
  const inner = {left: card.left + parseFloat(style.paddingLeft),
                 right: card.right - parseFloat(style.paddingRight)};
  return {inner, scroll: document.documentElement.scrollWidth, width: innerWidth,
    labels: [...list.querySelectorAll('li > span')].map((span) => {
      const box = span.getBoundingClientRect();
      return {text: span.textContent, lines: span.getClientRects().length,
              left: box.left, right: box.right, top: box.top, bottom: box.bottom};
    })};
}"""


def problems(page: Page) -> list[str]:
    found = []
    for index in range(page.locator("ol.progress").count()):
        measured = page.locator("ol.progress").nth(index).evaluate(MEASURE)
        labels, inner = measured["labels"], measured["inner"]
        if measured["scroll"] > measured["width"]:
            found.append(f"the page scrolls sideways ({measured['scroll']} px)")
        for label in labels:
            if label["lines"] != 1:
                found.append(f"{label['text']!r} wraps into {label['lines']} lines")
            if label["left"] < inner["left"] - 0.5 or label["right"] > inner["right"] + 0.5:
                found.append(f"{label['text']!r} runs out of its card")
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                apart = (
                    a["right"] <= b["left"]
                    or b["right"] <= a["left"]
                    or a["bottom"] <= b["top"]
                    or b["bottom"] <= a["top"]
                )
                if not apart:
                    found.append(f"{a['text']!r} overlaps {b['text']!r}")
    return found


@pytest.fixture
def orders(database: Database) -> tuple[str, str, str]:
    """A parcel out for delivery, and a return whose progress has six steps (one customer)."""
    shipped = make_order(database, status=OrderStatus.SHIPPED)
    record_events(database, shipped.id, [*route_to_hangzhou(), out_for_delivery()])
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    filed = file_return(
        database,
        delivered.id,
        delivered.customer_id,
        {first_line_id(database, delivered.id): 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "",
        [],
        RefundRules(),
        Actor(ActorKind.CUSTOMER, "test", channel="test"),
    )
    tracking = f"/orders/{shipped.public_no}"
    progress = f"/orders/{delivered.public_no}/returns/{filed.return_id}"
    return sms_link(database, shipped.id), tracking, progress


@pytest.fixture(params=[390, 320])
def narrow(
    request: pytest.FixtureRequest, browser: Browser, playwright: Playwright, live_server: str
) -> Iterator[BrowserContext]:
    options = phone_context_options(playwright)
    width = request.param
    options |= {
        "viewport": {"width": width, "height": 800},
        "screen": {"width": width, "height": 800},
    }
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_progress_steps_fit_on_one_line_each(
    narrow: BrowserContext, orders: tuple[str, str, str], locale: str
) -> None:
    link, tracking, progress = orders
    page = narrow.new_page()
    page.goto(link)
    found = []
    for path in (tracking, progress):
        page.goto(f"/language?to={locale}&next={path}")
        page.locator("ol.progress li").first.wait_for()
        found += [f"{path}: {problem}" for problem in problems(page)]
    assert not found, "\n".join(found)
