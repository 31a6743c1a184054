"""Return evidence checks on the pixels: blur, darkness and a 64-bit perceptual hash (pHash).

Pillow only, on purpose: the imagehash package would bring numpy, scipy and PyWavelets
(~57 MB installed) for one 32x32 DCT. The hash here is the same algorithm as imagehash's
`phash` (32x32 greyscale, 2-D DCT-II, the 8x8 lowest frequencies against their median),
written in pure Python; it costs ~2 ms per photo, and all three checks on a 12-megapixel
JPEG ~20 ms (decoded at 1/4 scale by libjpeg), measured on this project's 2-core machine.

The sharpness and brightness figures are taken at one fixed size, so a 48-megapixel photo
and a 2-megapixel one are judged alike; the thresholds were measured on generated
photo-like images (tests/photo_images.py) and on two real photos, sharp, blurred and
darkened; real customer photos will tell more, so the thresholds are named constants.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageFilter, ImageStat

from backend.refunds.photos import PhotoRejected

# Longest side the blur and darkness figures are measured at.
MEASURE_SIDE = 640
# Variance of the Laplacian in the sharpest of TILES x TILES tiles at MEASURE_SIDE: a
# plain item on a plain table is sharp only along its outline, which a whole-photo
# variance drowns in the flat areas (a white cup on a white table, shot sharp: 15-43
# over the whole photo, 64-85 in its sharpest tile), while blur from a shaking hand or
# missed focus covers the whole frame. Measured in the sharpest tile: sharp generated
# photos 569-1828, two real 720 px photos 373 and 1531; Gaussian blur of radius 3 at
# 1600 px: 18-46 (real ones 4-12), radius 4: 8-17; the white cup blurred: 3 at most.
# 40 leans towards keeping a photo: a mildly soft one is still evidence.
MIN_SHARPNESS = 40.0
TILES = 4
# Luminance (0-255) of the bright end of the photo: the level the brightest
# BRIGHT_SHARE of pixels reach. Not the mean, which a black bag filling the frame in good
# light drags down (mean 18-63 depending on how much table shows) while its lit table or
# seams stay bright. Measured: generated photos 171-206, two real photos 108 and 210; the
# same at 15% brightness 16-31, at 30% 32-63. 45 refuses what is barely visible.
MIN_BRIGHTNESS = 45.0
BRIGHT_SHARE = 0.05
# Bits of 64 two photos of the same picture may differ by. Measured on 30 generated
# photos: resized or re-encoded at JPEG quality 40 differ by 0-2, cropped by 2% a side
# by 6-10; different photos by 18 at least, 31 on average.
MAX_HASH_DISTANCE = 10
HASH_BITS = 64

_HASH_SIDE = 32
_LOW_FREQUENCIES = 8
# A 3x3 Laplacian reaches +-1020 on 8-bit input: divided by 8 and offset by 128 it fits
# an 8-bit image exactly, whose variance Pillow's ImageStat computes in C.
_LAPLACIAN_SCALE = 8
_LAPLACIAN = ImageFilter.Kernel(
    (3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=_LAPLACIAN_SCALE, offset=128
)


class PhotoTooBlurry(PhotoRejected):
    code = "photo_too_blurry"


class PhotoTooDark(PhotoRejected):
    code = "photo_too_dark"


@dataclass(frozen=True)
class PhotoMeasures:
    sharpness: float
    brightness: float
    perceptual_hash: int

    @property
    def hash_hex(self) -> str:
        return format_hash(self.perceptual_hash)

    @property
    def is_blurry(self) -> bool:
        return self.sharpness < MIN_SHARPNESS

    @property
    def is_dark(self) -> bool:
        return self.brightness < MIN_BRIGHTNESS


def open_for_checks(jpeg: bytes) -> Image.Image:
    """Decode a JPEG we encoded ourselves, letting libjpeg scale it down while decoding."""
    image = Image.open(io.BytesIO(jpeg))
    # draft() makes the decoder skip detail (1/2 .. 1/8 scale): a 12 MP photo decodes in
    # a fraction of the time, still at least MEASURE_SIDE on its longest side.
    image.draft("L", (MEASURE_SIDE, MEASURE_SIDE))
    image.load()
    return image


def measure_grey(image: Image.Image) -> Image.Image:
    """Greyscale with the longest side MEASURE_SIDE (smaller images are not enlarged)."""
    grey = image.convert("L")
    scale = MEASURE_SIDE / max(grey.size)
    if scale < 1:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return grey


def sharpness(grey: Image.Image) -> float:
    """Variance of the Laplacian in the sharpest tile (the kernel's 1-pixel border left out)."""
    if grey.width < 3 or grey.height < 3:
        return 0.0
    edges = grey.filter(_LAPLACIAN).crop((1, 1, grey.width - 1, grey.height - 1))
    width, height = edges.size
    across, down = min(TILES, width), min(TILES, height)
    tiles = (
        edges.crop(
            (
                column * width // across,
                row * height // down,
                (column + 1) * width // across,
                (row + 1) * height // down,
            )
        )
        for row in range(down)
        for column in range(across)
    )
    return max(float(ImageStat.Stat(tile).var[0]) for tile in tiles) * _LAPLACIAN_SCALE**2


def brightness(grey: Image.Image) -> float:
    """The luminance the brightest BRIGHT_SHARE of pixels reach (the 95th percentile)."""
    histogram = grey.histogram()
    remaining = sum(histogram) * BRIGHT_SHARE
    for level in range(255, -1, -1):
        remaining -= histogram[level]
        if remaining <= 0:
            return float(level)
    return 0.0


@cache
def _cosines() -> tuple[tuple[float, ...], ...]:
    """cos(pi * (2n + 1) * k / 2N) for the 8 lowest k over N = 32 samples."""
    n_samples = _HASH_SIDE
    return tuple(
        tuple(math.cos(math.pi * (2 * n + 1) * k / (2 * n_samples)) for n in range(n_samples))
        for k in range(_LOW_FREQUENCIES)
    )


def perceptual_hash(image: Image.Image) -> int:
    """64-bit pHash: bit i (row-major over the 8x8 lowest DCT frequencies) is above-median."""
    grey = image.convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.LANCZOS)
    pixels = grey.tobytes()
    rows = [pixels[i : i + _HASH_SIDE] for i in range(0, len(pixels), _HASH_SIDE)]
    cosines = _cosines()
    # Separable DCT-II: along each row first (8 coefficients each), then down each column.
    row_dct = [
        [sum(map(float.__mul__, basis, map(float, row))) for basis in cosines] for row in rows
    ]
    low = [
        sum(cosines[k][n] * row_dct[n][column] for n in range(_HASH_SIDE))
        for k in range(_LOW_FREQUENCIES)
        for column in range(_LOW_FREQUENCIES)
    ]
    median = sorted(low)[len(low) // 2 - 1 : len(low) // 2 + 1]
    threshold = (median[0] + median[1]) / 2
    value = 0
    for coefficient in low:
        value = (value << 1) | (coefficient > threshold)
    return value


def hash_distance(first: int, second: int) -> int:
    """Hamming distance: how many of the 64 bits differ."""
    return (first ^ second).bit_count()


def format_hash(value: int) -> str:
    """16 hex digits: stored as text, so PostgreSQL's signed BIGINT never sees bit 63."""
    if not 0 <= value < 1 << HASH_BITS:
        raise ValueError(value)
    return f"{value:016x}"


def parse_hash(text: str) -> int:
    value = int(text, 16)
    if len(text) != 16 or not 0 <= value < 1 << HASH_BITS:
        raise ValueError(text)
    return value


def measure(image: Image.Image) -> PhotoMeasures:
    grey = measure_grey(image)
    return PhotoMeasures(sharpness(grey), brightness(grey), perceptual_hash(grey))


def check_quality(measures: PhotoMeasures) -> None:
    """Refuse a photo nobody could judge the item by; darkness first, as it also reads as blur."""
    if measures.is_dark:
        raise PhotoTooDark(f"brightness {measures.brightness:.0f} < {MIN_BRIGHTNESS:.0f}")
    if measures.is_blurry:
        raise PhotoTooBlurry(f"sharpness {measures.sharpness:.0f} < {MIN_SHARPNESS:.0f}")


def closest(
    target: int, candidates: list[tuple[int, str]], limit: int = MAX_HASH_DISTANCE
) -> tuple[int, int] | None:
    """(id, distance) of the nearest candidate (id, hex hash) within `limit`, else None."""
    best: tuple[int, int] | None = None
    for candidate_id, text in candidates:
        distance = hash_distance(target, parse_hash(text))
        if distance <= limit and (best is None or distance < best[1]):
            best = (candidate_id, distance)
    return best
