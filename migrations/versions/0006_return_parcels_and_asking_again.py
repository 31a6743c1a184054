"""return parcels and asking again

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:29:37.637072
"""

from alembic import op
import sqlalchemy as sa



revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_shipment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resubmitted_from', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_return_requests_return_shipment_id_shipments'), 'shipments', ['return_shipment_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_return_requests_resubmitted_from_return_requests'), 'return_requests', ['resubmitted_from'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_return_requests_resubmitted_from_return_requests'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_return_requests_return_shipment_id_shipments'), type_='foreignkey')
        batch_op.drop_column('resubmitted_from')
        batch_op.drop_column('return_shipment_id')

