"""Dependencies point one way: portal -> backend; orders never imports logistics or refunds."""

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


@pytest.mark.parametrize(
    "path", modules_under("backend/orders"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_order_core_never_imports_logistics_or_refunds(path):
    offending = {
        name
        for name in imports_of(path)
        if name.startswith(("backend.logistics", "backend.refunds"))
    }
    assert not offending


def test_the_layering_check_sees_imports():
    assert "backend.orders.models" in imports_of(ROOT / "backend/logistics/service.py")
