"""Return photos that are no evidence: one also uploaded for another order's return, or a copy
of the product's own catalogue image. Marked when the request is filed, shown to staff.

Scale: each filed photo is compared, in Python, with the hashes of photos uploaded for other
orders' returns in the last REUSE_LOOKBACK only (id and 16 hex digits each, one indexed query on
created_at). 30,000 such photos (a shop with ~10,000 returns in half a year) cost ~9 ms
of Python per filed photo, measured here, plus reading their rows. Well beyond that, the
hashes would want an index of their own: cut into 11 bands of 5-6 bits, two hashes within
10 bits share at least one band exactly (pigeonhole), so an indexed band lookup finds
every candidate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from backend.db import Database
from backend.orders.models import Order, OrderLine, Sku
from backend.refunds.models import ReturnPhoto
from backend.refunds.photo_checks import closest, parse_hash

# Long enough for the same photo to come back after a season; see the module docstring.
REUSE_LOOKBACK = timedelta(days=180)


@dataclass(frozen=True)
class PhotoCopies:
    reused: int  # photos matching one uploaded for another order's return
    catalogue: int  # photos matching a returned product's catalogue image


def mark_copies(
    session: Session,
    order_id: int,
    line_ids: Iterable[int],
    photos: list[ReturnPhoto],
    now: datetime,
) -> PhotoCopies:
    """Set reused_photo_id / catalogue_sku_id on each photo that copies something."""
    hashed = [photo for photo in photos if photo.perceptual_hash]
    if hashed:
        earlier = _earlier_photos(session, order_id, now)
        catalogue = _catalogue_images(session, list(line_ids))
        for photo in hashed:
            value = parse_hash(photo.perceptual_hash or "")
            reused = closest(value, earlier)
            photo.reused_photo_id = reused[0] if reused else None
            copied = closest(value, catalogue)
            photo.catalogue_sku_id = copied[0] if copied else None
    return PhotoCopies(
        reused=sum(photo.reused_photo_id is not None for photo in photos),
        catalogue=sum(photo.catalogue_sku_id is not None for photo in photos),
    )


def _earlier_photos(session: Session, order_id: int, now: datetime) -> list[tuple[int, str]]:
    # Uploaded photos count whether or not their request was filed yet: uploads commit
    # before any request is filed, so two requests filed at the same moment with the same
    # picture each see the other's photo and both go to review; filed ones only would let
    # both through.
    rows = session.execute(
        select(ReturnPhoto.id, ReturnPhoto.perceptual_hash).where(
            ReturnPhoto.created_at > now - REUSE_LOOKBACK,
            ReturnPhoto.order_id != order_id,
            ReturnPhoto.perceptual_hash.is_not(None),
        )
    ).all()
    return [(photo_id, text) for photo_id, text in rows if text]


def _catalogue_images(session: Session, line_ids: list[int]) -> list[tuple[int, str]]:
    if not line_ids:
        return []
    rows = session.execute(
        select(Sku.id, Sku.image_hash)
        .join(OrderLine, OrderLine.sku == Sku.code)
        .where(OrderLine.id.in_(line_ids), Sku.image_hash.is_not(None))
    ).all()
    return [(sku_id, text) for sku_id, text in rows if text]


@dataclass(frozen=True)
class PhotoCopy:
    """One flagged photo for the review page, with what it matches."""

    photo_id: int
    reused_photo_id: int | None
    reused_order_no: str | None
    catalogue_sku_id: int | None
    catalogue_sku_name: str | None


def list_photo_copies(database: Database, return_ids: list[int]) -> dict[int, list[PhotoCopy]]:
    """Flagged photos by return, in one query: the queue shows each next to its match."""
    if not return_ids:
        return {}
    earlier = aliased(ReturnPhoto)
    with database.read() as session:
        rows = session.execute(
            select(
                ReturnPhoto.return_id, ReturnPhoto.id, earlier.id, Order.public_no, Sku.id, Sku.name
            )
            .outerjoin(earlier, earlier.id == ReturnPhoto.reused_photo_id)
            .outerjoin(Order, Order.id == earlier.order_id)
            .outerjoin(Sku, Sku.id == ReturnPhoto.catalogue_sku_id)
            .where(
                ReturnPhoto.return_id.in_(return_ids),
                (ReturnPhoto.reused_photo_id.is_not(None))
                | (ReturnPhoto.catalogue_sku_id.is_not(None)),
            )
            .order_by(ReturnPhoto.id)
        ).all()
    copies: dict[int, list[PhotoCopy]] = {}
    for return_id, photo_id, reused_id, order_no, sku_id, sku_name in rows:
        if return_id is None:
            continue  # not possible after the where clause; for the type checker
        copies.setdefault(return_id, []).append(
            PhotoCopy(photo_id, reused_id, order_no, sku_id, sku_name)
        )
    return copies
