"""Catalogue images for the demo SKUs, set through the SKU page's own verb.

The demo ships no photographs, so each product's picture is drawn (its code seeds the
shapes): enough for the review queue to show a catalogue match next to a return photo.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw
from sqlalchemy import select

from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.models import Sku
from backend.refunds.catalogue_images import set_catalogue_image
from backend.refunds.photos import PhotoStore

IMAGE_SIDE = 800


def draw_product(code: str, side: int = IMAGE_SIDE) -> bytes:
    """A product shot on a light studio background, different for every code."""
    rng = random.Random(code)
    image = Image.new("RGB", (side, side), (244, 242, 238))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        left, top = rng.randrange(side // 2), rng.randrange(side // 2)
        box = (
            left,
            top,
            left + rng.randrange(side // 6, side // 2),
            top + rng.randrange(side // 6, side // 2),
        )
        colour = tuple(rng.randrange(30, 230) for _ in range(3))
        shape = rng.choice((draw.rectangle, draw.ellipse))
        shape(box, fill=colour, outline=(40, 40, 40), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def seed_catalogue_images(database: Database, store: PhotoStore) -> int:
    """An image for each SKU that has none (so seeding twice adds nothing); how many were set."""
    with database.read() as session:
        missing = list(session.scalars(select(Sku.code).where(Sku.image_hash.is_(None))))
    seeder = Actor(ActorKind.SYSTEM, "demo", channel="demo")
    for code in missing:
        set_catalogue_image(database, store, code, draw_product(code), seeder)
    return len(missing)
