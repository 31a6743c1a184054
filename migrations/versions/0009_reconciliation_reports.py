"""reconciliation reports

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 04:49:56.117543
"""

from alembic import op
import sqlalchemy as sa



revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reconciliation_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('differences', sa.JSON(), nullable=False),
    sa.Column('rows_in_export', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_reports'))
    )
    with op.batch_alter_table('reconciliation_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_reports_channel'), ['channel'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reconciliation_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_reports_channel'))

    op.drop_table('reconciliation_reports')
