"""support requests: a customer's 催发货 reminders and messages to customer service, with replies

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 06:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'support_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('reminder_day', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('replied_by', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'], name=op.f('fk_support_requests_order_id_orders')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_requests')),
        sa.UniqueConstraint(
            'order_id', 'reminder_day', name=op.f('uq_support_requests_order_id_reminder_day')
        ),
    )
    op.create_index(
        op.f('ix_support_requests_order_id'), 'support_requests', ['order_id'], unique=False
    )
    op.create_index(
        op.f('ix_support_requests_status'), 'support_requests', ['status'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_support_requests_status'), table_name='support_requests')
    op.drop_index(op.f('ix_support_requests_order_id'), table_name='support_requests')
    op.drop_table('support_requests')
