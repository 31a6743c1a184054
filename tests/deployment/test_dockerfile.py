"""The Dockerfile: wheel built in one stage and installed in the next, non-root, signals reach
the portal, and the commands it runs are real `portal` commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from portal.cli import build_parser
from portal.routes.health import routes as health_routes

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> dict[str, list[tuple[str, str]]]:
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            current = named.setdefault(rest.split(" AS ")[-1], [])
        current.append((keyword, rest))
    return named


def last(stage: list[tuple[str, str]], keyword: str) -> str:
    return [rest for found, rest in stage if found == keyword][-1]


def runs(stage: list[tuple[str, str]]) -> str:
    return " && ".join(rest for keyword, rest in stage if keyword == "RUN")


def test_the_wheel_is_built_in_one_stage_and_installed_alone_in_the_next():
    build, runtime = stages()["build"], stages()["runtime"]
    assert any("python -m build --wheel" in rest for keyword, rest in build if keyword == "RUN")
    copied = [rest.split()[0] for keyword, rest in build if keyword == "COPY"]
    assert "emulators" not in copied and "tests" not in copied
    assert ("COPY", "--from=build /dist/ /tmp/dist/") in runtime
    assert "pip install --no-cache-dir /tmp/dist/*.whl" in runs(runtime)
    assert not [rest for keyword, rest in runtime if keyword == "COPY" and "--from" not in rest]


def test_the_portal_runs_as_a_user_of_its_own():
    assert last(stages()["runtime"], "USER") == "portal"
    assert "useradd --system" in runs(stages()["runtime"])


def test_the_stop_signal_reaches_the_portal_itself():
    runtime = stages()["runtime"]
    assert last(runtime, "STOPSIGNAL") == "SIGTERM"
    command = json.loads(last(runtime, "CMD"))  # exec form: no shell in between
    args = build_parser().parse_args(command[1:])
    assert (command[0], args.command, args.host) == ("portal", "serve", "0.0.0.0")  # noqa: S104


def test_the_health_check_asks_a_real_route_and_fails_on_a_refusal():
    check = last(stages()["runtime"], "HEALTHCHECK")
    command = json.loads(check.split(" CMD ", 1)[1])
    assert command[:2] == ["python3", "-c"]
    # urlopen raises on a 503 (the database unavailable), so the check exits non-zero.
    assert "urllib.request.urlopen('http://127.0.0.1:8000/healthz'" in command[2]
    assert "/healthz" in {route.path for route in health_routes}
    assert "--port 8000" in " ".join(json.loads(last(stages()["runtime"], "CMD")))


def test_the_demo_stage_adds_the_repos_emulators_and_runs_real_commands():
    demo = stages()["demo"]
    assert ("COPY", "--chown=root:root emulators /opt/demo/emulators") in demo
    shell = json.loads(last(demo, "CMD"))
    assert shell[:2] == ["sh", "-c"]
    for step in shell[2].split("&&"):
        words = shlex.split(step)
        words = words[1:] if words[0] == "exec" else words
        assert words[0] == "portal"
        build_parser().parse_args(words[1:])


def test_a_build_without_a_target_makes_the_portal_and_not_the_demo():
    # `docker build .` and compose's `build: .` make the last stage of the file.
    final = list(stages().values())[-1]
    assert final == [("FROM", "runtime AS portal")]
    assert "demo" in stages() and list(stages()).index("demo") < len(stages()) - 1


@pytest.mark.parametrize("kept_out", [".venv", ".git", "var", "tests", "bench", "docs"])
def test_the_build_context_leaves_out_what_the_image_does_not_need(kept_out):
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignored and f"!{kept_out}/" not in ignored and f"!{kept_out}" not in ignored
