"""Every customer-facing string has a Chinese translation."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from portal import i18n

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "portal" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def extracted_messages() -> set[str]:
    method_map = [("portal/**.py", "python"), ("portal/templates/**.html", "jinja2")]
    options = {"portal/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options,
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_extracted_message_is_translated_into_chinese():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    missing = extracted_messages() - translated
    assert not missing, f"run `make messages` and translate: {sorted(missing)}"


def test_the_extractor_sees_templates_and_code():
    messages = extracted_messages()
    assert "Order tracking" in messages
    assert "Awaiting payment" in messages


def test_the_extractor_sees_plural_messages():
    assert "Updated %(num)s minute ago" in extracted_messages()


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_an_empty_message_translates_to_nothing_not_to_the_catalogue_header(locale):
    i18n.set_locale(locale)
    try:
        assert i18n.gettext("") == ""
    finally:
        i18n.set_locale(i18n.DEFAULT_LOCALE)
