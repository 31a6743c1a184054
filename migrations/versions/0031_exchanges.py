"""exchanges (换货): SKU variants (product code, label, price) and the exchange table

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02 13:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('skus') as batch:
        batch.add_column(sa.Column('product_code', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('variant_label', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('price_fen', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_skus_product_code'), ['product_code'], unique=False)
    op.create_table(
        'exchanges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('from_line_id', sa.Integer(), nullable=False),
        sa.Column('from_sku_id', sa.Integer(), nullable=False),
        sa.Column('to_sku_id', sa.Integer(), nullable=False),
        sa.Column('replacement_order_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('difference_fen', sa.Integer(), nullable=False),
        sa.Column('refunded_fen', sa.Integer(), nullable=False),
        sa.Column('trusted', sa.Boolean(), nullable=False),
        sa.Column('trust_reason', sa.String(length=40), nullable=False),
        sa.Column('return_shipment_id', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by', sa.String(length=120), nullable=True),
        sa.CheckConstraint(
            'difference_fen >= 0', name=op.f('ck_exchanges_difference_not_negative')
        ),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'], name=op.f('fk_exchanges_order_id_orders')
        ),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customers.id'], name=op.f('fk_exchanges_customer_id_customers')
        ),
        sa.ForeignKeyConstraint(
            ['from_line_id'], ['order_lines.id'],
            name=op.f('fk_exchanges_from_line_id_order_lines'),
        ),
        sa.ForeignKeyConstraint(
            ['from_sku_id'], ['skus.id'], name=op.f('fk_exchanges_from_sku_id_skus')
        ),
        sa.ForeignKeyConstraint(['to_sku_id'], ['skus.id'], name=op.f('fk_exchanges_to_sku_id_skus')),
        sa.ForeignKeyConstraint(
            ['replacement_order_id'], ['orders.id'],
            name=op.f('fk_exchanges_replacement_order_id_orders'),
        ),
        sa.ForeignKeyConstraint(
            ['return_shipment_id'], ['shipments.id'],
            name=op.f('fk_exchanges_return_shipment_id_shipments'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchanges')),
        sa.UniqueConstraint('from_line_id', name=op.f('uq_exchanges_from_line_id')),
        sa.UniqueConstraint(
            'replacement_order_id', name=op.f('uq_exchanges_replacement_order_id')
        ),
        sa.UniqueConstraint('return_shipment_id', name=op.f('uq_exchanges_return_shipment_id')),
    )
    op.create_index(op.f('ix_exchanges_order_id'), 'exchanges', ['order_id'], unique=False)
    op.create_index(op.f('ix_exchanges_customer_id'), 'exchanges', ['customer_id'], unique=False)
    op.create_index(op.f('ix_exchanges_status'), 'exchanges', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_exchanges_status'), table_name='exchanges')
    op.drop_index(op.f('ix_exchanges_customer_id'), table_name='exchanges')
    op.drop_index(op.f('ix_exchanges_order_id'), table_name='exchanges')
    op.drop_table('exchanges')
    with op.batch_alter_table('skus') as batch:
        batch.drop_index(batch.f('ix_skus_product_code'))
        batch.drop_column('price_fen')
        batch.drop_column('variant_label')
        batch.drop_column('product_code')
