"""address phone index

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 05:00:52.348828
"""

from alembic import op
import sqlalchemy as sa



revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('address_versions', schema=None) as batch_op:
        batch_op.create_index('ix_address_versions_phone', ['phone'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('address_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_address_versions_phone')

