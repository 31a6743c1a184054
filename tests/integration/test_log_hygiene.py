"""`portal serve` and `portal worker` run for real: no code, token, phone or street is logged."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import fields, replace
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from backend.jobs.models import Job
from backend.notifications.outbox import SEND
from backend.orders.lifecycle import OrderStatus
from backend.staff.accounts import add_staff
from backend.staff.models import Role
from emulators.notifications import DEMO_ALIYUN_KEYS
from portal.cli import customer_links
from portal.settings import Settings
from tests.backend.logistics.live_servers import serve
from tests.conftest import SF_PUSH_TOKEN
from tests.factories import SYSTEM, create_shipment, make_order

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13917263548"
LAST4 = PHONE[-4:]
STREET = "文三路100号"  # every factory order's street
PASSWORD = "correct-horse-battery"
STARTUP_SECONDS = 30.0


def busy_sms_provider() -> Starlette:
    """An SMS gateway that is overloaded and says so, echoing the number it was given."""

    async def send(request: Request) -> PlainTextResponse:
        form = await request.form()
        return PlainTextResponse(f"throttled, retry later: {form.get('PhoneNumbers')}", 503)

    return Starlette(routes=[Route("/", send, methods=["POST"])])


def environment(settings: Settings) -> dict[str, str]:
    """The settings as the PORTAL_* variables a deployment would set."""
    variables = {**os.environ}
    for spec in fields(Settings):
        value = getattr(settings, spec.name)
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(value)
        variables[f"PORTAL_{spec.name.upper()}"] = text
    return variables


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def portal_process(args: list[str], env: dict[str, str], output: Path) -> Iterator[None]:
    """`portal ARGS` with stdout and stderr in `output`; interrupted like Ctrl-C at the end."""
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def is_up(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/ping", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def csrf(client: httpx.Client, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def failed_send(database) -> str | None:
    with database.read() as session:
        return session.scalar(select(Job.last_error).where(Job.kind == SEND))


@contextmanager
def deployment(
    settings: Settings, var_dir: Path, outputs: tuple[Path, Path], embedded: bool
) -> Iterator[Settings]:
    """`portal serve` with its embedded worker, or `portal serve --no-worker` and
    `portal worker`, on the test's database."""
    port = free_port()
    with serve(busy_sms_provider()) as sms_url:
        ((key_id, secret),) = DEMO_ALIYUN_KEYS.items()
        configured = replace(
            settings,
            base_url=f"http://127.0.0.1:{port}",
            aliyun_sms_access_key_id=key_id,
            aliyun_sms_access_key_secret=secret,
            aliyun_sms_sign_name="示例商城",
            aliyun_sms_endpoint=sms_url,
            kuaidi100_poll_url="http://127.0.0.1:9",
            kuaidi100_api_url="http://127.0.0.1:9",
            embedded_worker=embedded,
        )
        env = environment(configured) | {"PORTAL_VAR_DIR": str(var_dir)}
        with ExitStack() as processes:
            serving = ["serve", "--port", str(port)] + ([] if embedded else ["--no-worker"])
            processes.enter_context(portal_process(serving, env, outputs[0]))
            if not embedded:
                processes.enter_context(portal_process(["worker"], env, outputs[1]))
            wait_until(lambda: is_up(configured.base_url), "portal serve")
            yield configured


def visit_as_customer_visitor_and_staff(base_url: str, order, sms_link: str, signed_link: str):
    with httpx.Client(base_url=base_url, timeout=10) as customer:
        assert customer.get(sms_link).status_code == 303
        assert customer.get(signed_link).status_code == 303
    with httpx.Client(base_url=base_url, timeout=10) as visitor:
        form = {"order_no": order.public_no, "phone_last4": LAST4}
        answer = visitor.post("/lookup", data=form | {"csrf_token": csrf(visitor, "/lookup")})
        assert answer.status_code == 303
    with httpx.Client(base_url=base_url, timeout=10) as staff:
        login = {"name": "小王", "password": PASSWORD, "csrf_token": csrf(staff, "/admin/login")}
        assert staff.post("/admin/login", data=login).status_code == 303
        # make_order's buyer is 张三; four digits alone find nobody (backend/search.py).
        for query in (PHONE, f"{LAST4} 张三"):
            found = staff.get("/admin/orders", params={"q": query})
            assert found.status_code == 200 and order.public_no in found.text, query
        assert staff.get("/admin/orders", params={"q": STREET}).status_code == 200
    pushed = httpx.post(f"{base_url}/webhooks/sf/{SF_PUSH_TOKEN}", content=b"{}", timeout=10)
    assert pushed.status_code < 500


@pytest.mark.parametrize("worker", ["embedded", "separate"])
def test_no_code_token_phone_or_street_reaches_the_logs_of_serve_or_worker(
    database, settings, tmp_path, worker
):
    order = make_order(database, status=OrderStatus.PACKED, phone=PHONE)
    add_staff(database, "小王", Role.ADMIN, PASSWORD, SYSTEM)
    outputs = (tmp_path / "serve.log", tmp_path / "worker.log")
    outputs[1].touch()
    with deployment(settings, tmp_path / "var", outputs, worker == "embedded") as deployed:
        sms_link, signed_link = customer_links(deployed, database, order.id)
        visit_as_customer_visitor_and_staff(deployed.base_url, order, sms_link, signed_link)
        # The "shipped" SMS: the provider answers 503 with the phone number in its text.
        create_shipment(database, order.id, "sandbox", "SB7700000099", SYSTEM)
        wait_until(lambda: PHONE in (failed_send(database) or ""), "the worker's failed send")
    served, worked = (path.read_text(encoding="utf-8", errors="replace") for path in outputs)

    # What happened is there, in the route's shape ...
    assert '"GET /t/<code> HTTP/1.1" 303' in served
    assert '"GET /o/<token> HTTP/1.1" 303' in served
    assert '"GET /admin/orders HTTP/1.1" 200' in served and '"POST /lookup HTTP/1.1" 303' in served
    assert '"POST /webhooks/sf/<token> HTTP/1.1"' in served
    assert "(notify.send) failed: NotificationUnavailable" in (served + worked)
    # ... and none of the secrets or personal data, in any spelling.
    code, token = sms_link.rsplit("/t/", 1)[1], signed_link.rsplit("/o/", 1)[1]
    for name, text in (("serve", served), ("worker", worked)):
        for secret in (code, token, SF_PUSH_TOKEN, PHONE, STREET, quote(STREET), "张三"):
            assert secret not in text, (name, secret)
        assert not re.search(rf"(?<![\d:\[]){LAST4}(?![\d\]])", text), name
