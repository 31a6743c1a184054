"""shops, the shop of each order, channel line ids, ship confirmations

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 23:30:00.000000

Existing orders get the default shop of their channel, whose code is the channel's name
(what the portal makes when no shops file is given).
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('platform_shop_id', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('code', name=op.f('uq_shops_code'))
    )
    op.create_index(op.f('ix_shops_channel'), 'shops', ['channel'], unique=False)
    with op.batch_alter_table('orders') as batch_op:
        batch_op.add_column(sa.Column('shop_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_shop_id'), ['shop_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_shop_id_shops'), 'shops', ['shop_id'], ['id'])
    with op.batch_alter_table('order_lines') as batch_op:
        batch_op.add_column(sa.Column('channel_line_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('reconciliation_reports') as batch_op:
        batch_op.add_column(sa.Column('shop_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_reconciliation_reports_shop_id_shops'), 'shops', ['shop_id'], ['id'])
    op.create_table('ship_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=True),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('last_code', sa.String(length=80), nullable=True),
    sa.Column('last_message', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ship_confirmations_order_id_orders')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_ship_confirmations_shipment_id_shipments')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_ship_confirmations_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ship_confirmations')),
    sa.UniqueConstraint('shipment_id', name=op.f('uq_ship_confirmations_shipment_id'))
    )
    op.create_index(op.f('ix_ship_confirmations_order_id'), 'ship_confirmations', ['order_id'], unique=False)
    op.create_index(op.f('ix_ship_confirmations_status'), 'ship_confirmations', ['status'], unique=False)
    # One default shop per channel that has orders, and those orders in it.
    op.execute(
        "INSERT INTO shops (code, channel, name, active, created_at, updated_at) "
        "SELECT DISTINCT channel, channel, channel, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        "FROM orders"
    )
    op.execute("UPDATE orders SET shop_id = (SELECT id FROM shops WHERE shops.code = orders.channel)")


def downgrade() -> None:
    op.drop_index(op.f('ix_ship_confirmations_status'), table_name='ship_confirmations')
    op.drop_index(op.f('ix_ship_confirmations_order_id'), table_name='ship_confirmations')
    op.drop_table('ship_confirmations')
    with op.batch_alter_table('reconciliation_reports') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reconciliation_reports_shop_id_shops'), type_='foreignkey')
        batch_op.drop_column('shop_id')
    with op.batch_alter_table('order_lines') as batch_op:
        batch_op.drop_column('channel_line_id')
    with op.batch_alter_table('orders') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_shop_id_shops'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_shop_id'))
        batch_op.drop_column('shop_id')
    op.drop_index(op.f('ix_shops_channel'), table_name='shops')
    op.drop_table('shops')
