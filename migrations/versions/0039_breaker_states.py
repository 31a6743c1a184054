"""breaker states: each process's last circuit-breaker transition per provider

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-03 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "breaker_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("process", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaker_states")),
        sa.UniqueConstraint(
            "provider", "process", name=op.f("uq_breaker_states_provider_process")
        ),
    )
    with op.batch_alter_table("breaker_states", schema=None) as batch_op:
        batch_op.create_index("ix_breaker_states_changed_at", ["changed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("breaker_states", schema=None) as batch_op:
        batch_op.drop_index("ix_breaker_states_changed_at")
    op.drop_table("breaker_states")
