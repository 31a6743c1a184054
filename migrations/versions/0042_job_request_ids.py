"""jobs.request_id (the web request that enqueued a job); an index for the outbox backlog

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-04 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
    op.create_index("ix_notifications_status", "notifications", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_status", table_name="notifications")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
