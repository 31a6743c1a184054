"""invoice requests (发票): title, status, the issued PDF and the 红冲 flag

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 06:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'invoice_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('title_kind', sa.String(length=12), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('tax_number', sa.String(length=18), nullable=True),
        sa.Column('email', sa.String(length=120), nullable=True),
        sa.Column('amount_fen', sa.Integer(), nullable=False),
        sa.Column('reject_reason', sa.String(length=200), nullable=True),
        sa.Column('decided_by', sa.String(length=120), nullable=True),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('pdf', sa.LargeBinary(), nullable=True),
        sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
        sa.Column('reversal_flagged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_fen > 0', name=op.f('ck_invoice_requests_amount_positive')),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customers.id'],
            name=op.f('fk_invoice_requests_customer_id_customers'),
        ),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'], name=op.f('fk_invoice_requests_order_id_orders')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_requests')),
    )
    op.create_index(
        op.f('ix_invoice_requests_customer_id'), 'invoice_requests', ['customer_id']
    )
    op.create_index(op.f('ix_invoice_requests_order_id'), 'invoice_requests', ['order_id'])
    op.create_index(op.f('ix_invoice_requests_status'), 'invoice_requests', ['status'])


def downgrade() -> None:
    op.drop_table('invoice_requests')
