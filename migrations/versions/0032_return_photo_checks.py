"""return photo checks: perceptual hashes, the photo or catalogue image a return photo copies

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-02 13:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_name", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("image_thumbnail_name", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("image_hash", sa.String(length=16), nullable=True))
    # Photos kept before this have no hash: they are simply not compared (nothing to guess).
    with op.batch_alter_table("return_photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("perceptual_hash", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reused_photo_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("catalogue_sku_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_return_photos_reused_photo_id_return_photos"),
            "return_photos",
            ["reused_photo_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_return_photos_catalogue_sku_id_skus"),
            "skus",
            ["catalogue_sku_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_return_photos_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("return_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_return_photos_created_at"))
        batch_op.drop_constraint(
            batch_op.f("fk_return_photos_catalogue_sku_id_skus"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_return_photos_reused_photo_id_return_photos"), type_="foreignkey"
        )
        batch_op.drop_column("catalogue_sku_id")
        batch_op.drop_column("reused_photo_id")
        batch_op.drop_column("perceptual_hash")
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.drop_column("image_hash")
        batch_op.drop_column("image_thumbnail_name")
        batch_op.drop_column("image_name")
