"""One row per version of the tunable rules: every value, who saved it, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.clock import utcnow
from backend.db import Base


class RuleVersion(Base):
    __tablename__ = "rule_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 1, 2, 3 ...; unique, so two people saving at once can't both make version 5.
    version: Mapped[int] = mapped_column(unique=True)
    # Every tunable value of this version as staff typed it (fields.py), not only the changes:
    # a version reads alone, and an old one can be shown or restored as it was.
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(200), default="")
