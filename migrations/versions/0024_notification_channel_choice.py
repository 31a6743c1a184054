"""notification channel choice: why a message went by its channel, and the WeChat app it used

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 05:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_reason", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("wechat_appid", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("wechat_template_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("wechat_attempts", sa.Integer(), nullable=False, server_default="0")
        )
    # Before this revision a transition queued an SMS row and, for customers with an
    # openid, a second WeChat row. One row per transition now chooses its channel, so a
    # WeChat twin still waiting would be a second message: it is left unsent.
    op.execute(
        "UPDATE notifications SET status = 'skipped', channel_reason = 'legacy_twin' "
        "WHERE channel = 'wechat' AND status = 'pending'"
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("wechat_attempts")
        batch_op.drop_column("wechat_template_id")
        batch_op.drop_column("wechat_appid")
        batch_op.drop_column("channel_reason")
