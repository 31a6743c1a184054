"""The README's role table says exactly what ROLE_PERMISSIONS grants: a row per permission."""

from __future__ import annotations

import re
from pathlib import Path

from backend.staff.models import Role
from backend.staff.permissions import ROLE_PERMISSIONS, Permission

README = Path(__file__).resolve().parents[1] / "README.md"
HEADER = "| Permission | support | warehouse | finance | supervisor | admin |"


def readme_grants() -> dict[str, set[Role]]:
    lines = README.read_text().splitlines()
    start = lines.index(HEADER)
    roles = [Role(cell.strip()) for cell in HEADER.strip("|").split("|")[1:]]
    grants: dict[str, set[Role]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        code = re.search(r"\(`([a-z_]+)`\)", cells[0])
        assert code, f"row without a (`permission`) code: {line}"
        grants[code.group(1)] = {
            role for role, cell in zip(roles, cells[1:], strict=True) if cell == "✓"
        }
    return grants


def test_the_readme_role_table_matches_the_permission_table():
    table = readme_grants()
    assert set(table) == {str(permission) for permission in Permission}
    for permission in Permission:
        granted = {role for role, held in ROLE_PERMISSIONS.items() if permission in held}
        assert table[str(permission)] == granted, permission
