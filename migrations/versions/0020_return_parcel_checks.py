"""return parcel checks: when a return parcel was signed in, and staff checks of quiet ones

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 01:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parcel_received_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('parcel_checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('parcel_check_note', sa.String(length=200), nullable=True))
    # Requests past the parcel before this column existed were signed in already; without
    # this they would all look like parcels gone quiet. An older 极速退款 whose parcel is
    # still on the road is counted as in too: which ones those are was never recorded.
    op.execute(
        "UPDATE return_requests SET parcel_received_at = updated_at "
        "WHERE return_shipment_id IS NOT NULL "
        "AND status IN ('received', 'refunding', 'refunded', 'refund_failed')"
    )


def downgrade() -> None:
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_column('parcel_check_note')
        batch_op.drop_column('parcel_checked_at')
        batch_op.drop_column('parcel_received_at')
