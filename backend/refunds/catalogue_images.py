"""A product's catalogue image, kept so a return photo that merely copies it is caught.

It lives with the return photos (same private store, same cleaning, same pHash), and
this module sits in refunds because only the return checks read it.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from backend import audit
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.models import Sku
from backend.refunds.photo_checks import measure, open_for_checks
from backend.refunds.photos import PhotoStore, sanitize_photo
from backend.staff.permissions import Permission, check_permission

# The demo seed sets images through this same verb.
_IMAGE_KEEPERS = (ActorKind.SYSTEM,)


class SkuNotFound(LookupError):
    """No SKU with this code."""


def set_catalogue_image(
    database: Database, store: PhotoStore, code: str, data: bytes, actor: Actor
) -> str:
    """Clean, keep and hash the SKU's catalogue image (replacing any earlier one)."""
    check_permission(actor, Permission.MANAGE_SKUS, also=_IMAGE_KEEPERS)
    # PhotoRejected before anything is written. No blur or darkness check: a product shot
    # on a plain white background is flat by design, and staff chose it.
    photo = sanitize_photo(data)
    image_hash = measure(open_for_checks(photo.image)).hash_hex
    names = [store.save(photo.image), store.save(photo.thumbnail)]
    try:
        with database.write() as session:
            sku = session.scalar(
                select(Sku).where(Sku.code == code.strip().upper()).with_for_update()
            )
            if sku is None:
                raise SkuNotFound(code)
            replaced = [sku.image_name, sku.image_thumbnail_name]
            before = {"image_hash": sku.image_hash}
            sku.image_name, sku.image_thumbnail_name, sku.image_hash = *names, image_hash
            audit.record(
                session,
                actor,
                "sku.catalogue_image_set",
                subject="sku",
                subject_id=sku.id,
                before=before,
                after={"image_hash": image_hash},
            )
    except BaseException:
        for name in names:
            store.delete(name)
        raise
    for old in replaced:
        if old:  # the old files are no longer referenced once the row committed
            with contextlib.suppress(ValueError):
                store.delete(old)
    return image_hash


def catalogue_thumbnail(database: Database, sku_id: int) -> str | None:
    """The stored name of the SKU's catalogue thumbnail, if it has an image."""
    with database.read() as session:
        return session.scalar(select(Sku.image_thumbnail_name).where(Sku.id == sku_id))
