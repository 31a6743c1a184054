"""warehouses, per-warehouse stock, a stock ledger and transfer proposals; stock so far goes to MAIN

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 23:26:22.292048
"""

from alembic import op
import sqlalchemy as sa



revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('warehouses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('serves', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('contact_name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('province', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=32), nullable=False),
    sa.Column('district', sa.String(length=32), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouses')),
    sa.UniqueConstraint('code', name=op.f('uq_warehouses_code'))
    )
    op.create_table('warehouse_stock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.CheckConstraint('reserved <= on_hand', name=op.f('ck_warehouse_stock_never_oversold')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_warehouse_stock_reserved_not_negative')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_warehouse_stock_sku_id_skus')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_warehouse_stock_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouse_stock')),
    sa.UniqueConstraint('warehouse_id', 'sku_id', name=op.f('uq_warehouse_stock_warehouse_id_sku_id'))
    )
    with op.batch_alter_table('warehouse_stock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warehouse_stock_sku_id'), ['sku_id'], unique=False)

    op.create_table('stock_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=80), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_stock_movements_order_id_orders')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_stock_movements_sku_id_skus')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_movements_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements')),
    sa.UniqueConstraint('key', name=op.f('uq_stock_movements_key'))
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_movements_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movements_sku_id'), ['sku_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movements_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('transfer_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('from_warehouse_id', sa.Integer(), nullable=False),
    sa.Column('to_warehouse_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_transfer_proposals_quantity_positive')),
    sa.ForeignKeyConstraint(['from_warehouse_id'], ['warehouses.id'], name=op.f('fk_transfer_proposals_from_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_transfer_proposals_order_id_orders')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_transfer_proposals_order_line_id_order_lines')),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_transfer_proposals_sku_id_skus')),
    sa.ForeignKeyConstraint(['to_warehouse_id'], ['warehouses.id'], name=op.f('fk_transfer_proposals_to_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_proposals'))
    )
    with op.batch_alter_table('transfer_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_proposals_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfer_proposals_status'), ['status'], unique=False)

    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warehouse_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('order_line_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reservations_order_line_id'), ['order_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_warehouse_id'), ['warehouse_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_reservations_warehouse_id_warehouses'), 'warehouses', ['warehouse_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_reservations_order_line_id_order_lines'), 'order_lines', ['order_line_id'], ['id'])
    _move_existing_stock_to_main()


def _move_existing_stock_to_main() -> None:
    """Stock counted before warehouses existed was in one place: a default warehouse, MAIN.

    Only a database that has SKUs gets it; an empty one creates it on first need.
    """
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT 1 FROM skus LIMIT 1")).first():
        return
    bind.execute(
        sa.text(
            "INSERT INTO warehouses (code, name, serves, priority, active, contact_name, phone,"
            " province, city, district, street, created_at)"
            " VALUES ('MAIN', :name, '[]', 100, :yes, '', '', '', '', '', '', CURRENT_TIMESTAMP)"
        ),
        {"name": "主仓", "yes": True},
    )
    main = bind.execute(sa.text("SELECT id FROM warehouses WHERE code = 'MAIN'")).scalar_one()
    bind.execute(
        sa.text(
            "INSERT INTO warehouse_stock (warehouse_id, sku_id, on_hand, reserved)"
            " SELECT :main, id, on_hand, reserved FROM skus"
        ),
        {"main": main},
    )
    bind.execute(sa.text("UPDATE reservations SET warehouse_id = :main"), {"main": main})
    # A reservation belongs to the order's line of that SKU (intake stores our SKU code).
    bind.execute(
        sa.text(
            "UPDATE reservations SET order_line_id = (SELECT MIN(l.id) FROM order_lines l"
            " JOIN skus s ON s.code = l.sku"
            " WHERE l.order_id = reservations.order_id AND s.id = reservations.sku_id)"
        )
    )



def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reservations_order_line_id_order_lines'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_reservations_warehouse_id_warehouses'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_reservations_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_reservations_order_line_id'))
        batch_op.drop_column('order_line_id')
        batch_op.drop_column('warehouse_id')

    with op.batch_alter_table('transfer_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_proposals_status'))
        batch_op.drop_index(batch_op.f('ix_transfer_proposals_order_id'))

    op.drop_table('transfer_proposals')
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movements_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_stock_movements_sku_id'))
        batch_op.drop_index(batch_op.f('ix_stock_movements_order_id'))

    op.drop_table('stock_movements')
    with op.batch_alter_table('warehouse_stock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warehouse_stock_sku_id'))

    op.drop_table('warehouse_stock')
    op.drop_table('warehouses')
