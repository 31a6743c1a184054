"""indexes on orders.placed_at, paid_at and shipped_at, for the figures over a date range

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-03 16:00:00.000000
"""

from alembic import op


revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_placed_at", "orders", ["placed_at"], unique=False)
    op.create_index("ix_orders_paid_at", "orders", ["paid_at"], unique=False)
    op.create_index("ix_orders_shipped_at", "orders", ["shipped_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_shipped_at", table_name="orders")
    op.drop_index("ix_orders_paid_at", table_name="orders")
    op.drop_index("ix_orders_placed_at", table_name="orders")
