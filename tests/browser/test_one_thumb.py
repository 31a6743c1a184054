"""The scan and review pages at 320 px: every control big enough for a thumb, none off-screen.

44 × 44 CSS px is the touch target Apple and Android design guides give; links inside
text may be smaller (WCAG 2.5.8's 24 px minimum applies to them). Nothing may need a
sideways scroll, and the scan box and its button are in the first screen.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.lifecycle import OrderStatus
from backend.refunds.rules import RefundRules, RefundType
from backend.refunds.service import file_return
from backend.staff.models import Role
from tests.browser.test_accessibility import first_line_id
from tests.browser.test_staff_order_actions import log_in
from tests.factories import make_order

pytestmark = pytest.mark.browser

CONTROLS = "main button, main input:not([type=hidden]), main select, main textarea, main summary"
MEASURE = """selector => [...document.querySelectorAll(selector)]
  .filter(n => n.offsetParent !== null && !n.closest('details:not([open]) > :not(summary)'))
  .map(n => { const r = n.getBoundingClientRect();
              return {what: n.outerHTML.slice(0, 80), w: r.width, h: r.height,
                      right: r.right, top: r.top + window.scrollY}; })"""


def small_targets(page: Page) -> list[str]:
    found = []
    for box in page.evaluate(MEASURE, CONTROLS):
        radio = 'type="radio"' in box["what"] or 'type="checkbox"' in box["what"]
        # A radio or checkbox is tapped through its label, which the page's CSS enlarges.
        if not radio and (box["h"] < 44 or box["w"] < 44):
            found.append(f"{box['w']:.0f}×{box['h']:.0f} {box['what']}")
        if box["right"] > 320:
            found.append(f"off-screen {box['what']}")
    for box in page.evaluate(MEASURE, "main a"):
        if box["h"] < 24:
            found.append(f"link {box['h']:.0f} px high {box['what']}")
    return found


@pytest.mark.parametrize(
    ("role", "path"),
    [(Role.WAREHOUSE, "/warehouse/scan"), (Role.FINANCE, "/admin/returns")],
    ids=["scan", "review"],
)
def test_the_page_works_with_one_thumb_at_320_px(
    page: Page, live_server: str, database: Database, role: Role, path: str
) -> None:
    delivered = make_order(database, status=OrderStatus.DELIVERED)
    file_return(
        database,
        delivered.id,
        delivered.customer_id,
        {first_line_id(database, delivered.id): 1},
        RefundType.RETURN_AND_REFUND,
        "no_reason_7_days",
        "不想要了",
        [],
        RefundRules(max_auto_amount_fen=0),
        Actor(ActorKind.CUSTOMER, "test", channel="test"),
    )
    page.set_viewport_size({"width": 320, "height": 568})
    log_in(page, database, role, f"{role}-thumb")
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert small_targets(page) == []
    if path == "/warehouse/scan":
        box = page.get_by_role("button", name="打包并锁定地址").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 568  # no scrolling to scan
