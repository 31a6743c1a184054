"""address self-service

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:57:49.884259
"""

from alembic import op
import sqlalchemy as sa



revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('address_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('recipient_name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('province', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=32), nullable=False),
    sa.Column('district', sa.String(length=32), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('auto_approve_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=120), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_address_changes_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_address_changes'))
    )
    with op.batch_alter_table('address_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_address_changes_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_address_changes_status'), ['status'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_address_edits', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_reprinted_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_column('label_reprinted_at')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('customer_address_edits')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('urgent')

    with op.batch_alter_table('address_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_address_changes_status'))
        batch_op.drop_index(batch_op.f('ix_address_changes_order_id'))

    op.drop_table('address_changes')
