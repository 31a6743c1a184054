"""wechat access tokens shared across processes, and subscribe-message consents

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 04:55:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wechat_access_tokens',
        sa.Column('appid', sa.String(length=32), nullable=False),
        sa.Column('token', sa.String(length=1024), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('appid', name=op.f('pk_wechat_access_tokens')),
    )
    op.create_table(
        'wechat_consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('appid', sa.String(length=32), nullable=False),
        sa.Column('template_id', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('remaining', sa.Integer(), nullable=False),
        sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customers.id'], name=op.f('fk_wechat_consents_customer_id_customers')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_consents')),
        sa.UniqueConstraint(
            'customer_id',
            'appid',
            'template_id',
            name=op.f('uq_wechat_consents_customer_id_appid_template_id'),
        ),
    )


def downgrade() -> None:
    op.drop_table('wechat_consents')
    op.drop_table('wechat_access_tokens')
