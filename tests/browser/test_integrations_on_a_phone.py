"""The integration health page at phone widths: an open breaker, a quiet channel, no side scroll."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from backend.breaker import Breaker
from backend.breaker_states import BreakerStateRecorder
from backend.clock import utcnow
from backend.orders.models import ChannelEvent, IntakeOutcome, SalesChannel
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_staff_admin import PASSWORD, log_in
from tests.portal.helpers import ADMIN

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 320])
def test_the_integration_page_fits_a_phone(page, database, width, tmp_path: Path):
    recorder = BreakerStateRecorder(database, "portal-web-with-a-long-host-name:123456")
    breaker = Breaker("kuaidi100-waybill", threshold=1, on_change=recorder)
    breaker.record_failure()
    recorder.close()
    with database.write() as session:
        session.add(
            ChannelEvent(
                channel=SalesChannel.PINDUODUO,
                body="{}",
                outcome=IntakeOutcome.CREATED,
                received_at=utcnow() - timedelta(days=2),
            )
        )
    add_staff(database, "主管", Role.SUPERVISOR, PASSWORD, ADMIN)
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, "主管")
    page.goto("/admin/integrations")
    assert "已熔断" in page.locator("#breakers").inner_text()
    assert "无推送" in page.locator("#channel-pushes").inner_text()
    page.screenshot(path=str(tmp_path / f"integrations-{width}.png"), full_page=True)
    print(tmp_path / f"integrations-{width}.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert blocking_violations(page) == []
