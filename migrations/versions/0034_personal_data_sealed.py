"""personal data sealed at rest: phones, streets and their copies encrypted, phones blind-indexed

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02 22:30:00.000000

Rows already there are sealed here, in batches, with the ring the process installed
(backend/personal_data.py): `portal migrate` installs the one the settings name.
"""

from alembic import op
import sqlalchemy as sa

from backend import personal_data


revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

BATCH = 500
# (table, column, was JSON, nullable, type before): every column the models now seal.
SEALED = (
    ("customers", "phone", False, False, sa.String(length=20)),
    ("address_versions", "phone", False, False, sa.String(length=20)),
    ("address_versions", "street", False, False, sa.String(length=200)),
    ("address_changes", "phone", False, False, sa.String(length=20)),
    ("address_changes", "street", False, False, sa.String(length=200)),
    ("channel_events", "body", False, False, sa.Text()),
    ("jobs", "payload", True, False, sa.JSON()),
    ("audit_events", "before", True, True, sa.JSON()),
    ("audit_events", "after", True, True, sa.JSON()),
    ("notifications", "recipient", False, False, sa.String(length=64)),
    ("notifications", "params", True, False, sa.JSON()),
)
INDEXED = ("customers", "address_versions")


def _as_text(table: str, column: str, was_json: bool, nullable: bool) -> None:
    with op.batch_alter_table(table) as batch_op:
        batch_op.alter_column(
            column,
            type_=sa.Text(),
            existing_nullable=nullable,
            postgresql_using=f'"{column}"::text' if was_json else None,
        )


def _seal_column(connection, table: str, column: str, unseal: bool = False) -> None:
    ring = personal_data.ring()
    where = f"{table}.{column}"
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                f'SELECT id, "{column}" FROM {table} WHERE id > :last ORDER BY id LIMIT :batch'
            ),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            return
        for row_id, value in rows:
            sealed = value is not None and ring.key_of(value) is not None
            if value is not None and sealed == unseal:
                new = ring.open(value, where) if unseal else ring.seal(value, where)
                connection.execute(
                    sa.text(f'UPDATE {table} SET "{column}" = :value WHERE id = :id'),
                    {"value": new, "id": row_id},
                )
        last = rows[-1][0]


def _index_phones(connection, table: str) -> None:
    ring = personal_data.ring()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT id, phone FROM {table} WHERE id > :last ORDER BY id LIMIT :batch"),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            return
        for row_id, phone in rows:
            connection.execute(
                sa.text(
                    f"UPDATE {table} SET phone_index = :index, phone_last4 = :last4 WHERE id = :id"
                ),
                {
                    "index": ring.phone_index(phone or ""),
                    "last4": personal_data.last4(phone or ""),
                    "id": row_id,
                },
            )
        last = rows[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    for table in INDEXED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("phone_index", sa.String(length=64), nullable=True))
            batch_op.add_column(
                sa.Column("phone_last4", sa.String(length=4), nullable=False, server_default="")
            )
        # The index is taken from the clear number, before it is sealed.
        _index_phones(connection, table)
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_constraint("uq_customers_phone", type_="unique")
        batch_op.alter_column("phone_index", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_customers_phone_index", ["phone_index"])
    with op.batch_alter_table("address_versions") as batch_op:
        batch_op.drop_index("ix_address_versions_phone")
        batch_op.alter_column("phone_index", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("ix_address_versions_phone_index", ["phone_index"], unique=False)
    for table, column, was_json, nullable, _ in SEALED:
        _as_text(table, column, was_json, nullable)
        _seal_column(connection, table, column)
    for table in INDEXED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("phone_last4", server_default=None)


def downgrade() -> None:
    """Opened again with the ring in force (every key that sealed a row must be in it)."""
    connection = op.get_bind()
    for table, column, was_json, nullable, before in SEALED:
        _seal_column(connection, table, column, unseal=True)
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                type_=before,
                existing_type=sa.Text(),
                existing_nullable=nullable,
                postgresql_using=f'"{column}"::json' if was_json else None,
            )
    with op.batch_alter_table("address_versions") as batch_op:
        batch_op.drop_index("ix_address_versions_phone_index")
        batch_op.create_index("ix_address_versions_phone", ["phone"], unique=False)
        batch_op.drop_column("phone_last4")
        batch_op.drop_column("phone_index")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_constraint("uq_customers_phone_index", type_="unique")
        batch_op.create_unique_constraint("uq_customers_phone", ["phone"])
        batch_op.drop_column("phone_last4")
        batch_op.drop_column("phone_index")
