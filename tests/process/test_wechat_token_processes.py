"""Four processes that need the WeChat token at the same moment share one refresh."""

from __future__ import annotations

import re
import sys

from backend.notifications.models import WeChatAccessToken
from emulators.notifications import Fault, NotificationEmulator
from emulators.serving import serve_in_thread
from tests.process.processes import Processes, portal_environment
from tests.waiting import wait_until

APPID = "wx1234567890abcdef"
SECRET = "test-app-secret"
PROCESSES = 4


def test_four_processes_needing_the_token_at_once_refresh_it_once(database, tmp_path):
    emulator = NotificationEmulator(wechat_apps={APPID: SECRET})
    # A slow token answer keeps the first refresher busy while the others arrive: without
    # the shared lock, each of them would call stable_token too.
    emulator.set_fault("wechat", Fault(delay=0.5))
    with serve_in_thread(emulator.app) as url:
        wechat = {"wechat_appid": APPID, "wechat_app_secret": SECRET, "wechat_api_base_url": url}
        environment = portal_environment(database, tmp_path, **wechat)
        with Processes(environment, tmp_path) as processes:
            go = tmp_path / "go"
            command = [sys.executable, "-m", "tests.process.token_together", str(go)]
            started = [processes.start(command) for _ in range(PROCESSES)]
            wait_until(
                lambda: (
                    len(list(tmp_path.glob("go.*.ready"))) == PROCESSES
                    or any(process.poll() is not None for process in started)
                ),
                timeout=120,
                what="the processes to be set up",
            )
            go.touch()
            for process in started:
                process.wait(timeout=120)
            outputs = [processes.output(process) for process in started]
    assert [process.returncode for process in started] == [0] * PROCESSES, outputs
    tokens = {match for output in outputs for match in re.findall(r"^token=(\S+)$", output, re.M)}
    assert len(tokens) == 1, outputs
    assert emulator.token_requests == 1
    assert emulator.tokens_issued == 1
    with database.read() as session:
        row = session.get(WeChatAccessToken, APPID)
    assert row is not None and {row.token} == tokens
