"""gettext for templates and messages: zh_CN by default, English available.

Catalogs are read from the .po files and compiled in memory at start-up, so there
is no build step and no compiled file that can drift from its source.
"""

from __future__ import annotations

import gettext as gettext_module
from contextvars import ContextVar
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_COOKIE = "lang"

_current: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)
_catalogs: dict[str, gettext_module.NullTranslations] = {}


def _load(locale: str) -> gettext_module.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext_module.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def translations(locale: str) -> gettext_module.NullTranslations:
    if locale not in _catalogs:
        _catalogs[locale] = _load(locale)
    return _catalogs[locale]


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def current_locale() -> str:
    return _current.get()


def gettext(message: str) -> str:
    # gettext("") is the catalogue's header (Project-Id-Version ...), never a message.
    if not message:
        return ""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks a string for extraction without translating it yet."""
    return message
