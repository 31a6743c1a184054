"""order cancellations: one customer or staff cancel per order, its refund and the unpack

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02 14:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'order_cancellations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('requested_by', sa.String(length=64), nullable=False),
        sa.Column('refund_id', sa.Integer(), nullable=True),
        sa.Column('refund_fen', sa.Integer(), nullable=False),
        sa.Column('unpacked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('unpacked_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'], name=op.f('fk_order_cancellations_order_id_orders')
        ),
        sa.ForeignKeyConstraint(
            ['refund_id'], ['refunds.id'], name=op.f('fk_order_cancellations_refund_id_refunds')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_order_cancellations')),
        sa.UniqueConstraint('order_id', name=op.f('uq_order_cancellations_order_id')),
    )


def downgrade() -> None:
    op.drop_table('order_cancellations')
