"""robot alerts: what each group robot was last told about each kind of trouble

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02 22:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "robot_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("robot", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robot_alerts")),
        sa.UniqueConstraint("robot", "kind", name=op.f("uq_robot_alerts_robot_kind")),
    )


def downgrade() -> None:
    op.drop_table("robot_alerts")
