"""The README's configuration table is the settings: one row per field, its default and help."""

import re
from dataclasses import fields
from pathlib import Path

from portal.settings import Settings, describe, shown_default

README = Path(__file__).resolve().parent.parent / "README.md"
ROW = re.compile(r"^\| `(PORTAL_[A-Z0-9_]+)` \| `?(.*?)`? \| (.*) \|$", re.MULTILINE)


def readme_rows() -> dict[str, list[tuple[str, str]]]:
    rows: dict[str, list[tuple[str, str]]] = {}
    for match in ROW.finditer(README.read_text(encoding="utf-8")):
        rows.setdefault(match[1], []).append((match[2], match[3]))
    return rows


def test_every_setting_has_a_row_in_the_readme():
    text = README.read_text(encoding="utf-8")
    missing = [
        variable for variable, _default, _help in describe() if f"| `{variable}` |" not in text
    ]
    assert not missing, "add to the README's configuration table: " + ", ".join(missing)


def test_each_row_gives_the_default_and_the_help_line_of_its_setting():
    rows = readme_rows()
    wrong = []
    for spec in fields(Settings):
        variable = f"PORTAL_{spec.name.upper()}"
        expected = (shown_default(spec), spec.metadata["help"].replace("|", "&#124;"))
        if rows.get(variable, [expected]) != [expected]:
            wrong.append(f"| `{variable}` | `{expected[0]}` | {expected[1]} |")
    assert not wrong, "the README's rows should read:\n" + "\n".join(wrong)


def test_the_table_has_no_row_for_a_variable_that_is_not_a_setting():
    settings = {variable for variable, _default, _help in describe()}
    assert sorted(set(readme_rows()) - settings) == []


def test_defaults_are_shown_as_a_person_reads_them():
    shown = {spec.name: shown_default(spec) for spec in fields(Settings)}
    assert shown["database_url"] == "sqlite:///var/portal.db"  # not this machine's path
    assert shown["photo_dir"] == "var/photos"
    assert shown["kuaidi100_key"] == "(empty)"
    assert shown["sf_duplicate_order_codes"] == "8016"
    assert shown["secret_keys"] == "(var/secret.key)"
