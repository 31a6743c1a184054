"""Two web processes on one database behave as one portal: nothing a request relies on is
kept in one process's memory (sessions, revocations, rate limits, the tracking page)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import httpx
import pytest

from backend.actors import Actor, ActorKind
from backend.jobs.leases import is_process_alive
from backend.orders.access import LOOKUP_FAILURES_PER_ORDER, issue_short_link
from backend.orders.lifecycle import OrderStatus
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from tests.factories import SYSTEM, make_order
from tests.process.served import ServedPortal, free_port, portal_environment, portal_serve
from tests.waiting import wait_until

OPERATOR = Actor(ActorKind.SYSTEM, "test", channel="cli")
PASSWORD = "correct-horse-battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database(request, tmp_path):
    """The database both processes serve, and its URL."""
    if request.param == "sqlite":
        path, database = request.getfixturevalue("sqlite_file")
        return f"sqlite:///{path}", database
    database = request.getfixturevalue("postgres_database")
    return database.url, database


@pytest.fixture
def two_portals(shared_database, tmp_path) -> Iterator[tuple[ServedPortal, ServedPortal]]:
    url, _database = shared_database
    with ExitStack() as stack:
        served = []
        for name in ("a", "b"):
            workdir = tmp_path / name
            workdir.mkdir()
            served.append(stack.enter_context(portal_serve(url, workdir, "--no-worker")))
        yield served[0], served[1]


def form_token(browser: httpx.Client, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).text)
    assert match, url
    return match.group(1)


def post_form(browser: httpx.Client, portal: ServedPortal, path: str, **fields: str):
    """As a browser would: the form read from this process, posted back to it."""
    token = form_token(browser, f"{portal.url}{path}")
    return browser.post(
        f"{portal.url}{path}",
        data={**fields, "csrf_token": token},
        headers={"Origin": portal.url},
        follow_redirects=False,
    )


def is_signed_in(browser: httpx.Client, portal: ServedPortal) -> bool:
    page = browser.get(f"{portal.url}/admin/orders", follow_redirects=False)
    assert page.status_code in (200, 303), page.status_code
    return page.status_code == 200


def log_in(browser: httpx.Client, portal: ServedPortal, name: str) -> None:
    answer = post_form(browser, portal, "/admin/login", name=name, password=PASSWORD)
    assert answer.status_code == 303, answer.text[-1000:]


def test_a_staff_login_through_one_process_opens_the_other_and_a_logout_closes_both(
    shared_database, two_portals
):
    _url, database = shared_database
    first, second = two_portals
    add_staff(database, "客服小王", Role.SUPPORT, PASSWORD, OPERATOR)
    with httpx.Client(timeout=30) as browser:
        assert not is_signed_in(browser, second)
        log_in(browser, first, "客服小王")
        assert is_signed_in(browser, second)
        token = form_token(browser, f"{second.url}/admin/orders")  # the logout button's form
        ended = browser.post(
            f"{second.url}/admin/logout",
            data={"csrf_token": token},
            headers={"Origin": second.url},
            follow_redirects=False,
        )
        assert ended.status_code == 303
        assert not is_signed_in(browser, first)
        assert not is_signed_in(browser, second)


def test_disabling_a_staff_member_ends_their_session_in_every_process_at_once(
    shared_database, two_portals, tmp_path
):
    url, database = shared_database
    first, second = two_portals
    add_staff(database, "客服小李", Role.SUPPORT, PASSWORD, OPERATOR)
    with httpx.Client(timeout=30) as browser:
        log_in(browser, first, "客服小李")
        assert is_signed_in(browser, first) and is_signed_in(browser, second)
        disabled = subprocess.run(
            [sys.executable, "-m", "portal.cli", "staff", "disable", "客服小李"],
            env=portal_environment(url, tmp_path, 0),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert disabled.returncode == 0, disabled.stderr
        assert not is_signed_in(browser, first)
        assert not is_signed_in(browser, second)


def test_the_lookup_limit_counts_the_attempts_made_through_both_processes(
    shared_database, two_portals
):
    _url, database = shared_database
    first, second = two_portals
    order = make_order(database, status=OrderStatus.SHIPPED, phone="13800138000")
    wrong = {"order_no": order.public_no, "phone_last4": "0000"}
    with httpx.Client(timeout=30) as browser:
        for attempt in range(LOOKUP_FAILURES_PER_ORDER):
            portal = (first, second)[attempt % 2]
            assert post_form(browser, portal, "/lookup", **wrong).status_code == 422
        for portal in (first, second):
            right = post_form(browser, portal, "/lookup", **wrong | {"phone_last4": "8000"})
            assert right.status_code == 429


def test_a_tracking_page_cached_in_one_process_shows_a_change_made_through_the_other(
    shared_database, two_portals
):
    _url, database = shared_database
    first, second = two_portals
    order = make_order(database, status=OrderStatus.PAID)
    code = issue_short_link(database, order.id, SYSTEM, timedelta(days=1))
    page = f"/orders/{order.public_no}"
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        assert browser.get(f"{first.url}/t/{code}").status_code == 200
        for _ in range(2):  # the second one is served from the first process's cache
            assert "不想要了？" in browser.get(f"{first.url}{page}").text
        assert "不想要了？" in browser.get(f"{second.url}{page}").text
        cancelled = post_form(browser, second, f"{page}/cancel", reason="too_slow")
        assert cancelled.status_code == 303
        after = browser.get(f"{first.url}{page}").text
    assert "不想要了？" not in after
    assert "退款 ¥256.00 正在原路退回。" in after


def test_portal_web_workers_2_serves_from_two_processes_and_a_sigterm_stops_both_with_0(
    shared_database, tmp_path
):
    url, _database = shared_database
    port = free_port()
    environment = portal_environment(url, tmp_path, port) | {
        "PORTAL_WEB_WORKERS": "2",
        "PORTAL_METRICS_TOKEN": "scrape-token",
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes one shared directory
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "portal.cli", "serve", "--port", str(port), "--no-worker"]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, cwd=tmp_path, env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: (
                log.read_text().count("Application startup complete") == 2
                or server.poll() is not None
            ),
            timeout=120,
            what="two web processes",
        )
        children = {
            int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", log.read_text())
        }
        assert len(children) == 2 and server.pid not in children, log.read_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:
            # A connection each, so the two processes share the requests between them.
            once = {"Connection": "close"}
            assert all(browser.get("/ping", headers=once).status_code == 200 for _ in range(40))
            # Whichever process answers the scrape counts the other's requests too.
            for _ in range(6):
                figures = browser.get(
                    "/metrics", headers=once | {"Authorization": "Bearer scrape-token"}
                ).text
                pings = re.search(
                    r'portal_http_request_duration_seconds_count\{[^}]*route="/ping"[^}]*\} (\S+)',
                    figures,
                )
                assert pings and float(pings.group(1)) == 40, figures[-2000:]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=120) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=60)
    assert log.read_text().count("Application shutdown complete") == 2, log.read_text()
    assert not any(is_process_alive(pid) for pid in children)
