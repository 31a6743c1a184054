"""in-transit refunds: 仅退款 for a parcel on the road, intercepted (拦截退回) or refused (拒收)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02 13:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'in_transit_refunds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=12), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('amount_fen', sa.Integer(), nullable=False),
        sa.Column('checks', sa.JSON(), nullable=False),
        sa.Column('refund_id', sa.Integer(), nullable=True),
        sa.Column('carrier_note', sa.String(length=200), nullable=True),
        sa.Column('decided_by', sa.String(length=120), nullable=True),
        sa.Column('reject_reason', sa.String(length=200), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'amount_fen > 0', name=op.f('ck_in_transit_refunds_amount_positive')
        ),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customers.id'], name=op.f('fk_in_transit_refunds_customer_id_customers')
        ),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'], name=op.f('fk_in_transit_refunds_order_id_orders')
        ),
        sa.ForeignKeyConstraint(
            ['refund_id'], ['refunds.id'], name=op.f('fk_in_transit_refunds_refund_id_refunds')
        ),
        sa.ForeignKeyConstraint(
            ['shipment_id'], ['shipments.id'], name=op.f('fk_in_transit_refunds_shipment_id_shipments')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_in_transit_refunds')),
        sa.UniqueConstraint('shipment_id', name=op.f('uq_in_transit_refunds_shipment_id')),
    )
    op.create_index(
        op.f('ix_in_transit_refunds_order_id'), 'in_transit_refunds', ['order_id'], unique=False
    )
    op.create_index(
        op.f('ix_in_transit_refunds_customer_id'), 'in_transit_refunds', ['customer_id'], unique=False
    )
    op.create_index(
        op.f('ix_in_transit_refunds_status'), 'in_transit_refunds', ['status'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_in_transit_refunds_status'), table_name='in_transit_refunds')
    op.drop_index(op.f('ix_in_transit_refunds_customer_id'), table_name='in_transit_refunds')
    op.drop_index(op.f('ix_in_transit_refunds_order_id'), table_name='in_transit_refunds')
    op.drop_table('in_transit_refunds')
