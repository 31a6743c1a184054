"""goodwill refunds (补偿): an amount staff refund, finance-approved above a limit

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-02 22:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goodwill_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_goodwill_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_goodwill_refunds_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_goodwill_refunds_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goodwill_refunds")),
        sa.UniqueConstraint(
            "order_id", "request_key", name=op.f("uq_goodwill_refunds_order_id_request_key")
        ),
    )
    with op.batch_alter_table("goodwill_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goodwill_refunds_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_goodwill_refunds_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("goodwill_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goodwill_refunds_status"))
        batch_op.drop_index(batch_op.f("ix_goodwill_refunds_order_id"))
    op.drop_table("goodwill_refunds")
