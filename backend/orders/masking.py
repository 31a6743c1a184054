"""Personal data as the customer page shows it: enough to recognise, not enough to misuse."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***, Li Lei -> L*****."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str) -> str:
    """13812341234 -> 138****1234; anything shorter keeps only its last four digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "****"


def mask_street(street: str) -> str:
    """The street line is hidden entirely: the district is enough to recognise an address."""
    return "****" if street.strip() else ""
