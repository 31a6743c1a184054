"""parcel labels: waybills booked at a carrier by the pack scan, to show, reprint and void

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 00:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('parcel_labels',
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('order_key', sa.String(length=60), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_order_id', sa.String(length=64), nullable=True),
    sa.Column('label_url', sa.String(length=500), nullable=True),
    sa.Column('print_task_id', sa.String(length=64), nullable=True),
    sa.Column('printed', sa.Boolean(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_parcel_labels_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('shipment_id', name=op.f('pk_parcel_labels')),
    sa.UniqueConstraint('order_key', name=op.f('uq_parcel_labels_order_key'))
    )


def downgrade() -> None:
    op.drop_table('parcel_labels')
