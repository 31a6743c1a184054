"""One home each: China time is defined once (backend/clock.py), the mobile pattern once
(backend/phones.py); every other module uses them."""

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
