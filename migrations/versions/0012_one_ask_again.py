"""a rejected return is asked again at most once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:30:00
"""

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f('uq_return_requests_resubmitted_from'), ['resubmitted_from']
        )


def downgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_return_requests_resubmitted_from'), type_='unique')
