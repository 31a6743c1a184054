"""One home each: China time is defined once (backend/clock.py), the mobile pattern once
(backend/phones.py); every other module uses them."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE = sorted([*(ROOT / "backend").rglob("*.py"), *(ROOT / "portal").rglob("*.py")])

RULES = {
    "China time": (
        re.compile(r"ZoneInfo\(\s*['\"]Asia/Shanghai|timezone\(\s*timedelta\(\s*hours\s*=\s*8"),
        ROOT / "backend" / "clock.py",
    ),
    "the mainland mobile pattern": (re.compile(r"1\[3-9\]"), ROOT / "backend" / "phones.py"),
    "utcnow": (re.compile(r"^def utcnow\(", re.M), ROOT / "backend" / "clock.py"),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_it_is_defined_in_its_one_home_only(rule):
    pattern, home = RULES[rule]
    homes = [path.relative_to(ROOT) for path in CODE if pattern.search(path.read_text())]
    assert homes == [home.relative_to(ROOT)]


def _identity_compares_with_a_member(path: Path) -> list[int]:
    """Lines with `x is Enum.MEMBER`: true for a member just made, false once reloaded as str."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops
        ):
            for side in (node.left, *node.comparators):
                if (
                    isinstance(side, ast.Attribute)
                    and side.attr.isupper()
                    and isinstance(side.value, (ast.Name, ast.Attribute))
                ):
                    found.append(node.lineno)
    return found


def test_no_code_compares_an_enum_member_by_identity():
    offending = {
        str(path.relative_to(ROOT)): lines
        for path in CODE
        if (lines := _identity_compares_with_a_member(path))
    }
    assert offending == {}


def test_the_identity_check_sees_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("if change.kind is ChangeKind.EDIT:\n    pass\nif x is None:\n    pass\n")
    assert _identity_compares_with_a_member(sample) == [1]
