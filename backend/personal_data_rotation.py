"""Resealing every sealed value under the ring's current key, while the app keeps running.

Rotation, step by step (README, "Personal data at rest"): put the new key first in
PORTAL_DATA_KEYS, keeping the old ones after it, and restart the processes; from then on
new values are sealed with it and old ones still open. Then `portal rotate-data-key`
walks every sealed column in batches of its own short transaction, and rewrites a value
only if it is still the ciphertext it read (a row the app changed meanwhile is already
under the new key). Run it again until it reports 0; then the old key may leave the ring.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table, Text, select, type_coerce, update

from backend import audit, personal_data
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.personal_data import SealedColumnType
from backend.schema import metadata
from backend.staff.permissions import Permission, check_permission

BATCH = 500
RESEALED = "personal_data.resealed"


@dataclass(frozen=True)
class Resealed:
    values: int  # values rewritten under the current key
    columns: int  # sealed columns walked
    key: str  # the current key's id


def sealed_columns() -> list[tuple[Table, Column[object]]]:
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, SealedColumnType)
    ]


def _reseal_batch(
    database: Database, table: Table, column: Column[object], after: int
) -> tuple[int, int | None]:
    ring = personal_data.ring()
    where = f"{table.name}.{column.name}"
    raw = type_coerce(column, Text)  # the stored text, not opened, and comparable
    rewritten = 0
    with database.write() as session:
        rows = session.execute(
            select(table.c.id, raw).where(table.c.id > after).order_by(table.c.id).limit(BATCH)
        ).all()
        for row_id, stored in rows:
            if stored is None or ring.key_of(stored) == ring.current:
                continue
            fresh = ring.seal(ring.open(stored, where), where)
            result = session.execute(
                update(table)
                .where(table.c.id == row_id, raw == stored)
                .values({column.name: type_coerce(fresh, Text)})
            )
            rewritten += result.rowcount or 0  # type: ignore[attr-defined]
    return rewritten, rows[-1][0] if rows else None


def reseal_all(database: Database, actor: Actor) -> Resealed:
    """An operator's command: staff need the power over staff (admin); the CLI is the system."""
    check_permission(actor, Permission.MANAGE_STAFF, also=(ActorKind.SYSTEM,))
    total = 0
    columns = sealed_columns()
    for table, column in columns:
        after: int | None = 0
        while after is not None:
            rewritten, after = _reseal_batch(database, table, column, after)
            total += rewritten
    current = personal_data.ring().current
    with database.write() as session:
        audit.record(
            session,
            actor,
            RESEALED,
            subject="data_key",
            subject_id=current,
            after={"values": total, "columns": len(columns)},
        )
    return Resealed(total, len(columns), current)
