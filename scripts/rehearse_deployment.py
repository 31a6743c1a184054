"""Run by hand what the image and compose.yaml run, without Docker: the wheel, alone, on PostgreSQL.

    .venv/bin/python scripts/rehearse_deployment.py postgresql://postgres@127.0.0.1:5432/NAME

The database should be a scratch one: it is migrated. Steps, each checked:
  1. build the wheel as the Dockerfile's build stage does;
  2. install it in a fresh venv of /usr/bin/python3, with nothing of the repo on the path
     (`import emulators` must fail there);
  3. from a working directory of its own, with the required settings and no others, run the
     commands compose.yaml gives migrate, web-1, web-2, worker-1 and worker-2 and the
     Dockerfile's CMD (ports moved to free ones), then its HEALTHCHECK command against each
     web process, and against a closed port, where it must fail;
  4. SIGTERM every long-running process, as `docker stop` does, and expect exit status 0;
  5. `portal backup` must refuse PostgreSQL with the pg_dump command.
"""

# Every command run here comes from this repo's Dockerfile and compose.yaml, or names the
# fresh venv's `portal` on a PATH set here.
# ruff: noqa: S603, S607

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LONG_RUNNING = ("web-1", "web-2", "worker-1", "worker-2")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dockerfile_json(instruction: str, stage: str = "runtime") -> list[str]:
    """The exec-form arguments of INSTRUCTION in the Dockerfile's `stage`."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    in_stage, found = False, None
    for line in text.splitlines():
        if line.startswith("FROM "):
            in_stage = line.endswith(f" AS {stage}")
        elif in_stage and line.startswith(f"{instruction} "):
            found = line
    assert found is not None, f"no {instruction} in stage {stage}"
    return list(json.loads(found.split(" CMD ", 1)[1] if " CMD " in found else found[4:]))


def step(what: str) -> None:
    print(f"--- {what}", flush=True)


def run(
    command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    return done


def install_wheel(scratch: Path) -> Path:
    step("build the wheel (python -m build --wheel)")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(scratch / "dist"), str(ROOT)])
    (wheel,) = (scratch / "dist").glob("*.whl")
    step(f"install {wheel.name} in a fresh venv")
    venv = scratch / "venv"
    run(["/usr/bin/python3", "-m", "venv", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)])
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import emulators"],
        capture_output=True,
        cwd=scratch,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode != 0, "emulators importable from the installed wheel"
    print("    emulators: not importable (as in the image)")
    return venv


def environment(venv: Path, database_url: str) -> dict[str, str]:
    """The five required settings, as compose.yaml sets them, and nothing from this shell."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(venv.parent),
        "PYTHONUNBUFFERED": "1",
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEYS": secrets.token_urlsafe(32),
        "PORTAL_DATA_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "PORTAL_BLIND_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PORTAL_BASE_URL": "https://track.example.com",
    }


def moved(command: list[str], port: int) -> list[str]:
    return [str(port) if word == "8000" else word for word in command]


def healthcheck(env: dict[str, str], port: int, workdir: Path) -> int:
    check = [word.replace(":8000/", f":{port}/") for word in dockerfile_json("HEALTHCHECK")]
    return subprocess.run(check, env=env, cwd=workdir, capture_output=True).returncode


def wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"exited {process.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"no answer on {port}:\n{log.read_text()}")


def start(
    name: str, command: list[str], env: dict[str, str], workdir: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=sink, stderr=sink)
    print(f"    {name}: {' '.join(command)} (pid {process.pid})")
    return process, log


def rehearse(database_url: str, scratch: Path) -> None:
    venv = install_wheel(scratch)
    workdir = scratch / "srv-portal"  # the image's WORKDIR, /srv/portal
    workdir.mkdir()
    env = environment(venv, database_url)
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    step("migrate: " + " ".join(services["migrate"]["command"]))
    print("    " + run(services["migrate"]["command"], env=env, cwd=workdir).stdout.strip())
    step("start the web and worker processes")
    started: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    ports: dict[str, int] = {}
    for name in (*LONG_RUNNING, "image CMD"):
        command = services[name]["command"] if name in services else dockerfile_json("CMD")
        if "serve" in command:
            ports[name] = free_port()
            command = moved(command, ports[name])
        started[name] = start(name, command, env, workdir)
    for name, port in ports.items():
        wait_for(port, *started[name])
        status = healthcheck(env, port, workdir)
        assert status == 0, f"health check of {name} failed ({status})"
        print(f"    {name}: health check passed on port {port}")
    closed = healthcheck(env, free_port(), workdir)
    assert closed != 0, "the health check passed with nothing listening"
    print(f"    health check against a closed port: exit {closed} (fails, as it must)")
    time.sleep(2)  # the workers take their slots and poll once
    step("SIGTERM each process, as docker stop does")
    for name, (process, log) in started.items():
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=90)
        took = time.monotonic() - sent
        assert status == 0, f"{name} exited {status}:\n{log.read_text()}"
        print(f"    {name}: exit 0 after {took:.1f} s")
    step("portal backup on PostgreSQL")
    refused = subprocess.run(
        ["portal", "backup", "x.db"], env=env, cwd=workdir, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "pg_dump" in refused.stderr, refused.stderr
    print("    " + refused.stderr.strip())
    print("all steps passed")


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].startswith("postgresql://"):
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory(prefix="portal-rehearsal-") as scratch:
        rehearse(sys.argv[1], Path(scratch))


if __name__ == "__main__":
    main()
