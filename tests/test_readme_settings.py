"""The README's configuration table names every setting, so a merchant can find each one."""

from pathlib import Path

from portal.settings import describe

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_has_a_row_in_the_readme():
    text = README.read_text(encoding="utf-8")
    missing = [
        variable for variable, _default, _help in describe() if f"| `{variable}` |" not in text
    ]
    assert not missing, "add to the README's configuration table: " + ", ".join(missing)
