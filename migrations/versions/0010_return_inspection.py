"""return inspection

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 04:58:49.927277
"""

from alembic import op
import sqlalchemy as sa



revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inspection', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('inspected_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_column('inspected_at')
        batch_op.drop_column('inspection')

