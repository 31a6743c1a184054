"""customer WeChat ids per app, and the used nonces of WeChat OAuth states

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 04:40:00.000000

Customers with a wechat_openid keep it on the customers row (the subscribe-message sender
still reads it); which app it belongs to was never recorded, so no row is made for it here.
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_wechat_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('appid', sa.String(length=32), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('unionid', sa.String(length=64), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_wechat_ids_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_wechat_ids')),
    sa.UniqueConstraint('customer_id', 'appid', name=op.f('uq_customer_wechat_ids_customer_id_appid'))
    )
    op.create_index('ix_customer_wechat_ids_appid_openid', 'customer_wechat_ids', ['appid', 'openid'], unique=False)
    op.create_table('wechat_oauth_nonces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_wechat_oauth_nonces_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_oauth_nonces')),
    sa.UniqueConstraint('nonce', name=op.f('uq_wechat_oauth_nonces_nonce'))
    )
    op.create_index(op.f('ix_wechat_oauth_nonces_used_at'), 'wechat_oauth_nonces', ['used_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_wechat_oauth_nonces_used_at'), table_name='wechat_oauth_nonces')
    op.drop_table('wechat_oauth_nonces')
    op.drop_index('ix_customer_wechat_ids_appid_openid', table_name='customer_wechat_ids')
    op.drop_table('customer_wechat_ids')
