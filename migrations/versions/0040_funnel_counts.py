"""funnel counts: link opens and page views per Shanghai day, for the self-service funnel

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-03 15:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funnel_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "step", name=op.f("pk_funnel_counts")),
    )


def downgrade() -> None:
    op.drop_table("funnel_counts")
