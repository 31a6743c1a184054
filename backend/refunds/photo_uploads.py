"""Photos a customer uploads for a coming return: checked and cleaned before anything is kept."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db import Database
from backend.refunds.models import ReturnPhoto
from backend.refunds.photo_checks import check_quality, measure, open_for_checks
from backend.refunds.photos import PhotoStore, check_photo_count, sanitize_photo


def store_photo(
    database: Database, store: PhotoStore, order_id: int, data: bytes, limit: int = 6
) -> int:
    """Check, clean and keep one photo for an order's coming return; nothing left on failure."""
    photo = sanitize_photo(data)  # raises PhotoRejected before anything is written
    measures = measure(open_for_checks(photo.image))
    check_quality(measures)  # blurry or dark: the customer retakes it, nothing is kept
    with database.read() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(ReturnPhoto)
            .where(ReturnPhoto.order_id == order_id, ReturnPhoto.return_id.is_(None))
        )
    check_photo_count((pending or 0) + 1, limit)
    names = [store.save(photo.image), store.save(photo.thumbnail)]
    try:
        with database.write() as session:
            row = ReturnPhoto(
                order_id=order_id,
                storage_name=names[0],
                thumbnail_name=names[1],
                width=photo.width,
                height=photo.height,
                sha256=photo.sha256,
                perceptual_hash=measures.hash_hex,
            )
            session.add(row)
            session.flush()
            return row.id
    except BaseException:
        for name in names:
            store.delete(name)
        raise
