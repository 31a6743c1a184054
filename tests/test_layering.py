"""Dependencies point one way: portal -> backend, and down the table between backend domains."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("backend"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_backend_never_imports_the_web_layer(path):
    forbidden = {"portal", "starlette", "jinja2"}
    offending = {name for name in imports_of(path) if name.split(".")[0] in forbidden}
    assert not offending


# Which domains a domain may use. The order core uses none; a domain is never used by one
# it uses (no cycles). Read models that join several domains (backend/tracking_page.py,
# backend/operations.py) live outside the domain packages for that reason.
DOMAINS: dict[str, frozenset[str]] = {
    "orders": frozenset(),
    "notifications": frozenset({"orders"}),
    "logistics": frozenset({"orders", "notifications"}),
    "fulfilment": frozenset({"orders", "notifications", "logistics"}),
    # Below refunds: a refund that lands flags the order's issued invoice for 红冲.
    "invoices": frozenset({"orders"}),
    "refunds": frozenset({"orders", "notifications", "logistics", "fulfilment", "invoices"}),
    "support": frozenset({"orders"}),
    "exchanges": frozenset({"orders", "notifications", "logistics", "refunds"}),
}
# The plumbing every domain stands on; it uses no domain itself.
FOUNDATIONS = ("db", "clock", "phones", "actors", "audit", "jobs", "staff", "breaker")


def _domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "backend" and parts[1] in DOMAINS else None


@pytest.mark.parametrize(
    ("domain", "path"),
    [(d, p) for d in DOMAINS for p in modules_under(f"backend/{d}")],
    ids=lambda value: value if isinstance(value, str) else str(value.relative_to(ROOT)),
)
def test_a_domain_uses_only_the_domains_below_it(domain, path):
    used = {_domain_of(name) for name in imports_of(path)} - {None, domain}
    assert used <= DOMAINS[domain], f"{domain} may not use {used - DOMAINS[domain]}"


def test_the_domain_table_has_no_cycle():
    for domain, below in DOMAINS.items():
        for other in below:
            assert domain not in DOMAINS[other], (domain, other)


@pytest.mark.parametrize(
    "path",
    [p for name in FOUNDATIONS for p in sorted((ROOT / "backend").glob(f"{name}*/**/*.py"))]
    + [p for name in FOUNDATIONS if (p := ROOT / "backend" / f"{name}.py").exists()],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_foundations_use_no_domain(path):
    assert {_domain_of(name) for name in imports_of(path)} <= {None}


def test_the_layering_check_sees_the_old_cycle():
    """logistics once imported refunds.models for the tracking page: the table refuses it."""
    assert "refunds" not in DOMAINS["logistics"] and "logistics" in DOMAINS["refunds"]


def test_the_layering_check_sees_imports():
    assert "backend.orders.models" in imports_of(ROOT / "backend/logistics/service.py")
