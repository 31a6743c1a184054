"""Saving and reading rule versions: each save a new version, validated, audited.

The newest version is in force. Every process reads it again at most every
PORTAL_RULES_REFRESH_SECONDS (portal/rules_in_force.py), so a change made in the admin
reaches every web and job process within a minute, without a restart. Decisions keep the
values they were made with (a return's checks store their limits, and its rules version),
so an old decision still shows its old reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend import audit
from backend.actors import Actor
from backend.clock import utcnow
from backend.db import Database
from backend.rulebook.fields import FIELDS, seed_values, validate
from backend.rulebook.models import RuleVersion
from backend.staff.permissions import Permission, check_permission

CHANGED = "rules.changed"
NOTE_MAX = 200


class VersionConflict(Exception):
    """Someone saved a newer version since the form was opened: look at it first."""

    def __init__(self, current: int) -> None:
        super().__init__(f"version {current} is newer")
        self.current = current


@dataclass(frozen=True)
class VersionInForce:
    version: int  # 0: nothing saved yet, the environment's values
    values: dict[str, str]


@dataclass(frozen=True)
class VersionRow:
    version: int
    created_by: str
    created_at: datetime
    note: str
    changed: tuple[tuple[str, str, str], ...]  # (key, before, after) against the version before


_NEWEST = select(RuleVersion.version, RuleVersion.values).order_by(RuleVersion.version.desc())


def in_force(database: Database, seed: Any) -> VersionInForce:
    """The newest version's values; the environment's (version 0) before the first save."""
    with database.read() as session:
        row = session.execute(_NEWEST.limit(1)).first()
    if row is None:
        return VersionInForce(0, seed_values(seed))
    return VersionInForce(int(row.version), {**seed_values(seed), **row.values})


def save_version(
    database: Database,
    values: dict[str, str],
    based_on: int,
    note: str,
    actor: Actor,
    seed: Any,
    now: datetime | None = None,
) -> int:
    """A new version from the form; refuses invalid values (all at once) and stale forms.

    `based_on` is the version the form showed: saving over someone else's newer version
    would silently undo their change, so it is refused (VersionConflict). The first save
    also writes version 1, the environment's values, so history starts where the merchant
    started.
    """
    check_permission(actor, Permission.MANAGE_RULES)
    validate(values)  # RulesInvalid names every bad field
    cleaned = {field.key: values[field.key].strip() for field in FIELDS}
    note = " ".join(note.split())[:NOTE_MAX]
    now = now or utcnow()
    try:
        with database.write() as session:
            newest = session.execute(_NEWEST.limit(1).with_for_update()).first()
            current = int(newest.version) if newest else 0
            if current != based_on:
                raise VersionConflict(current)
            before = {**seed_values(seed), **(newest.values if newest else {})}
            if newest is None:
                session.add(
                    RuleVersion(
                        version=1,
                        values=before,
                        created_by="environment",
                        created_at=now,
                        note="PORTAL_* settings",
                    )
                )
                current = 1
            changed = {k: (before.get(k, ""), v) for k, v in cleaned.items() if before.get(k) != v}
            if not changed:
                return current
            version = current + 1
            session.add(
                RuleVersion(
                    version=version,
                    values=cleaned,
                    created_by=actor.identifier,
                    created_at=now,
                    note=note,
                )
            )
            audit.record(
                session,
                actor,
                CHANGED,
                subject="rules",
                subject_id=version,
                before={k: old for k, (old, _new) in changed.items()},
                after={k: new for k, (_old, new) in changed.items()} | {"note": note},
                at=now,
            )
            return version
    except IntegrityError:
        # Two saves raced past the lock (SQLite has no row lock on an empty table): the
        # unique version number let one through; the other is told to look again.
        raise VersionConflict(based_on + 1) from None


def list_versions(database: Database, actor: Actor, limit: int = 20) -> tuple[VersionRow, ...]:
    """The newest versions, each with what it changed against the one before it."""
    check_permission(actor, Permission.MANAGE_RULES)
    with database.read() as session:
        rows = session.execute(
            select(
                RuleVersion.version,
                RuleVersion.values,
                RuleVersion.created_by,
                RuleVersion.created_at,
                RuleVersion.note,
            )
            .order_by(RuleVersion.version.desc())
            .limit(limit + 1)
        ).all()
    listed: list[VersionRow] = []
    for row, older in zip(rows, [*rows[1:], None], strict=False):
        if len(listed) == limit:
            break
        previous = older.values if older is not None else {}
        changed = tuple(
            (key, str(previous.get(key, "")), str(value))
            for key, value in row.values.items()
            if older is not None and previous.get(key) != value
        )
        listed.append(VersionRow(row.version, row.created_by, row.created_at, row.note, changed))
    return tuple(listed)
