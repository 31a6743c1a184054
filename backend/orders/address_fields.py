"""Field rules for a delivery address: mainland mobile number, recipient name and street line."""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from backend.phones import normalize_mobile

RECIPIENT_NAME_MAX_LENGTH = 20
STREET_MIN_LENGTH = 2
# Carriers' waybill APIs cap the detail line around 120-200 characters; 120 fits all we use.
STREET_MAX_LENGTH = 120

# Only real spacing; \s would also swallow the \x1c-\x1f separators, which must be rejected.
_WHITESPACE = re.compile(r"[ \t\r\n\u2028\u2029]+")
# Invisible characters that copy-paste from chat apps leaves behind; harmless, so removed.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
# Brackets, their entity and URL encodings, and the ways script runs without a <script> tag.
_MARKUP = re.compile(
    r"[<>]|&(?:lt|gt|#0*6[02]|#x0*3[ce]);?|%3[ce]|javascript:|vbscript:|\bon[a-z]+\s*=", re.I
)


class AddressFieldInvalid(ValueError):
    """What the customer typed cannot be used; `code` is stable, for the web layer to translate."""

    code: ClassVar[str] = "address_field_invalid"
    field: ClassVar[str] = ""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)


class MobileNumberInvalid(AddressFieldInvalid):
    code = "mobile_number_invalid"
    field = "phone"


class RecipientNameEmpty(AddressFieldInvalid):
    code = "recipient_name_empty"
    field = "recipient_name"


class RecipientNameTooLong(AddressFieldInvalid):
    code = "recipient_name_too_long"
    field = "recipient_name"


class RecipientNameHasForbiddenCharacters(AddressFieldInvalid):
    code = "recipient_name_forbidden_characters"
    field = "recipient_name"


class StreetTooShort(AddressFieldInvalid):
    code = "street_too_short"
    field = "street"


class StreetTooLong(AddressFieldInvalid):
    code = "street_too_long"
    field = "street"


class StreetHasControlCharacters(AddressFieldInvalid):
    code = "street_control_characters"
    field = "street"


class StreetContainsMarkup(AddressFieldInvalid):
    code = "street_contains_markup"
    field = "street"


def validate_mainland_mobile(raw: str) -> str:
    """Like phones.normalize_mobile, for a form: raises MobileNumberInvalid instead of None."""
    mobile = normalize_mobile(raw)
    if mobile is None:
        raise MobileNumberInvalid()
    return mobile


def has_control_characters(text: str) -> bool:
    """Cc, Cf (bidi overrides can disguise a label), private use and unassigned code points."""
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def _tidy(raw: str) -> tuple[str, bool]:
    """NFKC, invisible characters dropped, runs of whitespace (incl. newlines) as one space.

    Also says whether anything else from the control categories was there, so callers can
    reject it rather than silently change what the customer will see on the label.
    """
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    text = _WHITESPACE.sub(" ", text).strip()
    return text, has_control_characters(text)


def validate_recipient_name(raw: str) -> str:
    """The name as it goes on the label: 1-20 characters, no control characters or < >."""
    name, has_control = _tidy(raw)
    if not name:
        raise RecipientNameEmpty()
    if has_control or "<" in name or ">" in name:
        raise RecipientNameHasForbiddenCharacters()
    if len(name) > RECIPIENT_NAME_MAX_LENGTH:
        raise RecipientNameTooLong()
    return name


def validate_street(raw: str) -> str:
    """The detail line under the district: 2-120 characters of plain text, no markup."""
    street, has_control = _tidy(raw)
    if has_control:
        raise StreetHasControlCharacters()
    # Street lines are printed on labels and shown to staff and couriers' apps; none of those
    # need markup, and some of them do not escape it.
    if _MARKUP.search(street):
        raise StreetContainsMarkup()
    if len(street) < STREET_MIN_LENGTH:
        raise StreetTooShort()
    if len(street) > STREET_MAX_LENGTH:
        raise StreetTooLong()
    return street
