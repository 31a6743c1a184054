"""channel intake and inventory

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 04:34:51.350882
"""

from alembic import op
import sqlalchemy as sa



revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('skus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('cost_fen', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.CheckConstraint('reserved <= on_hand', name=op.f('ck_skus_never_oversold')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_skus_reserved_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skus')),
    sa.UniqueConstraint('code', name=op.f('uq_skus_code'))
    )
    op.create_table('channel_skus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('channel_sku', sa.String(length=64), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_channel_skus_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_skus')),
    sa.UniqueConstraint('channel', 'channel_sku', name=op.f('uq_channel_skus_channel_channel_sku'))
    )
    op.create_table('channel_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('delivery_id', sa.String(length=100), nullable=True),
    sa.Column('channel_order_no', sa.String(length=64), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_channel_events_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_events')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_channel_events_delivery_id'))
    )
    with op.batch_alter_table('channel_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_events_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_events_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_events_received_at'), ['received_at'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_reservations_order_id_orders')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_reservations_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_sku_id'), ['sku_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_reason', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('channel_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_hold_reason'), ['hold_reason'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_hold_reason'))
        batch_op.drop_column('channel_updated_at')
        batch_op.drop_column('hold_reason')

    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_sku_id'))
        batch_op.drop_index(batch_op.f('ix_reservations_order_id'))

    op.drop_table('reservations')
    with op.batch_alter_table('channel_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_events_received_at'))
        batch_op.drop_index(batch_op.f('ix_channel_events_order_id'))
        batch_op.drop_index(batch_op.f('ix_channel_events_channel'))

    op.drop_table('channel_events')
    op.drop_table('channel_skus')
    op.drop_table('skus')
