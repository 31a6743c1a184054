"""Photo-like test images: lit gradients, shapes with sharp edges and sensor noise, by seed.

Flat-colour images would be refused as blurry by the upload checks; these pass them, and
each seed lays its shapes out differently, so two seeds differ in perceptual hash.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


def photo_like(seed: int = 0, size: tuple[int, int] = (800, 600)) -> Image.Image:
    rng = random.Random(seed)
    width, height = size
    base = tuple(rng.randrange(90, 200) for _ in range(3))
    gradient = Image.linear_gradient("L").resize(size).rotate(rng.randrange(360))
    image = Image.merge("RGB", [gradient.point(lambda v, c=c: c // 2 + v * c // 510) for c in base])
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        box = (
            sorted(rng.randrange(width) for _ in range(2)),
            sorted(rng.randrange(height) for _ in range(2)),
        )
        corners = (box[0][0], box[1][0], box[0][1] + 8, box[1][1] + 8)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice((draw.rectangle, draw.ellipse))
        shape(corners, fill=colour, outline=(20, 20, 20), width=3)
    for _ in range(10):
        points = [(rng.randrange(width), rng.randrange(height)) for _ in range(2)]
        draw.line(points, fill=(30, 30, 30), width=2)
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(image, noise, 0.08)


def plain_object(seed: int = 0, size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A white cup on a white table: sharp only along its outline, little texture anywhere."""
    rng = random.Random(seed)
    width, height = size
    table = Image.linear_gradient("L").resize(size).point(lambda v: 200 + v // 8).convert("RGB")
    draw = ImageDraw.Draw(table)
    left, top = rng.randrange(width // 3), rng.randrange(height // 3)
    draw.ellipse(
        (left, top, left + width // 4, top + height // 3),
        fill=(245, 245, 245),
        outline=(170, 170, 170),
        width=4,
    )
    return Image.blend(table, Image.effect_noise(size, 64).convert("RGB"), 0.04)


def dark_object_in_good_light(size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A black bag filling most of the frame on a lit table: dark on average, not underexposed."""
    width, height = size
    image = Image.new("RGB", size, (150, 140, 130))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (width // 24, height // 24, width * 23 // 24, height * 23 // 24),
        fill=(22, 20, 20),
        outline=(60, 60, 60),
        width=6,
    )
    draw.line(
        (width // 5, height // 4, width * 4 // 5, height // 4 + 20), fill=(90, 90, 90), width=5
    )
    return Image.blend(image, Image.effect_noise(size, 64).convert("RGB"), 0.05)


def blurred(image: Image.Image, radius: float = 6) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def darkened(image: Image.Image, factor: float = 0.15) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def encode(image: Image.Image, image_format: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def photo_jpeg(seed: int = 0, size: tuple[int, int] = (800, 600), quality: int = 90) -> bytes:
    return encode(photo_like(seed, size), "JPEG", quality=quality)
