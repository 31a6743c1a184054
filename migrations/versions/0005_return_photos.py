"""return photos

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:19:25.900519
"""

from alembic import op
import sqlalchemy as sa



revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('return_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('return_id', sa.Integer(), nullable=True),
    sa.Column('storage_name', sa.String(length=40), nullable=False),
    sa.Column('thumbnail_name', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_return_photos_order_id_orders')),
    sa.ForeignKeyConstraint(['return_id'], ['return_requests.id'], name=op.f('fk_return_photos_return_id_return_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_photos'))
    )
    with op.batch_alter_table('return_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_photos_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_photos_return_id'), ['return_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('return_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_photos_return_id'))
        batch_op.drop_index(batch_op.f('ix_return_photos_order_id'))

    op.drop_table('return_photos')
