"""audit index by action

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 04:42:32.891138
"""

from alembic import op
import sqlalchemy as sa



revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_action_at', ['action', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_action_at')

