"""wechat jsapi tickets shared across processes, like the access token

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-02 06:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wechat_jsapi_tickets',
        sa.Column('appid', sa.String(length=32), nullable=False),
        sa.Column('ticket', sa.String(length=512), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('appid', name=op.f('pk_wechat_jsapi_tickets')),
    )


def downgrade() -> None:
    op.drop_table('wechat_jsapi_tickets')
