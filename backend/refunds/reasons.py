"""Return reasons as a configurable table: code, labels and what each one demands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class ReasonCode(StrEnum):
    NO_REASON_7_DAYS = "no_reason_7_days"
    CHANGED_MIND = "changed_mind"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    MISSING_ITEM = "missing_item"
    QUALITY = "quality"
    NOT_AS_DESCRIBED = "not_as_described"


class DuplicateReasonCode(ValueError):
    """Two reasons in one table share a code, so a request could not be told apart."""


@dataclass(frozen=True)
class ReturnReason:
    code: str
    label_zh: str
    label_en: str
    requires_photos: bool = False
    requires_inspection: bool = False
    # Refund-only means the customer keeps the goods; a no-reason return is by
    # definition a return, so such reasons must send the goods back.
    allows_refund_only: bool = True

    def label(self, locale: str) -> str:
        """Chinese unless English is asked for: zh_CN is the portal's default locale."""
        return self.label_en if locale.lower().startswith("en") else self.label_zh


R = ReasonCode

DEFAULT_REASONS: tuple[ReturnReason, ...] = (
    ReturnReason(
        R.NO_REASON_7_DAYS, "七天无理由退货", "No-reason return (7 days)", allows_refund_only=False
    ),
    ReturnReason(
        R.CHANGED_MIND,
        "不想要了/拍错了",
        "Changed my mind / ordered by mistake",
        allows_refund_only=False,
    ),
    ReturnReason(R.DAMAGED, "商品破损", "Arrived damaged", requires_photos=True),
    ReturnReason(R.WRONG_ITEM, "发错货", "Wrong item sent", requires_photos=True),
    ReturnReason(R.MISSING_ITEM, "少件/漏发", "Item missing from the parcel", requires_photos=True),
    ReturnReason(
        R.QUALITY, "质量问题", "Quality problem", requires_photos=True, requires_inspection=True
    ),
    ReturnReason(
        R.NOT_AS_DESCRIBED,
        "与描述不符",
        "Not as described",
        requires_photos=True,
        requires_inspection=True,
    ),
)


def index_reasons(reasons: Iterable[ReturnReason]) -> Mapping[str, ReturnReason]:
    """Reasons by code, read-only; refuses duplicates instead of silently keeping the last."""
    by_code: dict[str, ReturnReason] = {}
    for reason in reasons:
        if reason.code in by_code:
            raise DuplicateReasonCode(reason.code)
        by_code[str(reason.code)] = reason
    return MappingProxyType(by_code)
