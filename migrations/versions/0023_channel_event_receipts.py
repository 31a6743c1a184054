"""channel event receipts: one per acknowledged push, so a re-run ingest job records nothing twice

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 05:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_channel_events_receipt'), ['receipt'])


def downgrade() -> None:
    with op.batch_alter_table('channel_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_channel_events_receipt'), type_='unique')
        batch_op.drop_column('receipt')
