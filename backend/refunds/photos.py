"""Return photos: checked by content, re-encoded without metadata, stored privately."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

from PIL import Image, ImageOps, UnidentifiedImageError

from backend.refunds.photo_layout import (
    LayoutBroken,
    LayoutHasTrailingData,
    PhotoFormat,
    check_layout,
    name_rejected_type,
    sniff_format,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_PHOTO_LIMIT",
    "THUMBNAIL_SIDE",
    "PhotoCorrupt",
    "PhotoFormat",
    "PhotoNameInvalid",
    "PhotoNotFound",
    "PhotoRejected",
    "PhotoStore",
    "PhotoStoreIsPublic",
    "PhotoTooLarge",
    "PhotoTooManyPixels",
    "PhotoTypeNotAllowed",
    "SanitizedPhoto",
    "TooManyPhotos",
    "check_photo_count",
    "is_heic_supported",
    "random_storage_name",
    "sanitize_photo",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# 48-megapixel phone sensors (8064x6048) fit; decoding one costs ~150 MB of RGB.
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_PHOTO_LIMIT = 6
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 85
THUMBNAIL_QUALITY = 80
OUTPUT_MEDIA_TYPE = "image/jpeg"

# Pillow's own name for each format: open() tries only that plugin, then we check it agreed.
_PILLOW_FORMATS: Mapping[PhotoFormat, frozenset[str]] = MappingProxyType(
    {
        PhotoFormat.JPEG: frozenset({"JPEG", "MPO"}),
        PhotoFormat.PNG: frozenset({"PNG"}),
        PhotoFormat.WEBP: frozenset({"WEBP"}),
        PhotoFormat.HEIC: frozenset({"HEIF"}),
    }
)


class PhotoRejected(Exception):
    """An upload the portal will not keep; `code` is stable for the web layer and the logs."""

    code: ClassVar[str] = "photo_rejected"

    def __init__(self, detail: str, **params: int | str) -> None:
        super().__init__(f"{self.code}: {detail}")
        self.detail = detail
        self.params: Mapping[str, int | str] = MappingProxyType(params)


class PhotoTooLarge(PhotoRejected):
    code = "photo_too_large"


class PhotoTooManyPixels(PhotoRejected):
    code = "photo_too_many_pixels"


class PhotoTypeNotAllowed(PhotoRejected):
    code = "photo_type_not_allowed"


class PhotoCorrupt(PhotoRejected):
    code = "photo_corrupt"


class TooManyPhotos(PhotoRejected):
    code = "too_many_photos"


@dataclass(frozen=True)
class SanitizedPhoto:
    image: bytes  # JPEG, no EXIF/GPS/XMP/ICC/comments
    thumbnail: bytes  # JPEG, longest side THUMBNAIL_SIDE at most
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    source_format: PhotoFormat
    sha256: str  # of `image`, hex
    media_type: str = OUTPUT_MEDIA_TYPE


def check_photo_count(count: int, limit: int = DEFAULT_PHOTO_LIMIT) -> None:
    if count < 0:
        raise ValueError(count)
    if count > limit:
        raise TooManyPhotos(f"{count} > {limit}", count=count, limit=limit)


@functools.cache
def is_heic_supported() -> bool:
    """Registers pillow-heif's opener once; without the package HEIC is simply refused."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def sanitize_photo(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    thumbnail_side: int = THUMBNAIL_SIDE,
) -> SanitizedPhoto:
    """Decide the type from the bytes alone, then keep only the pixels, upright, as JPEG."""
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"{len(data)} > {max_bytes}", size=len(data), limit=max_bytes)
    if not data:
        raise PhotoCorrupt("empty")
    photo_format = _identify(data)
    with _open_checked(data, photo_format, max_pixels) as opened:
        upright = _decode_upright(opened)
    pixels = _to_plain_rgb(upright)
    image = _encode_jpeg(pixels, JPEG_QUALITY)
    thumbnail = pixels.copy()
    thumbnail.thumbnail((thumbnail_side, thumbnail_side), Image.Resampling.LANCZOS)
    return SanitizedPhoto(
        image=image,
        thumbnail=_encode_jpeg(thumbnail, THUMBNAIL_QUALITY),
        width=pixels.width,
        height=pixels.height,
        thumbnail_width=thumbnail.width,
        thumbnail_height=thumbnail.height,
        source_format=photo_format,
        sha256=hashlib.sha256(image).hexdigest(),
    )


def _identify(data: bytes) -> PhotoFormat:
    photo_format = sniff_format(data)
    if photo_format is None:
        raise PhotoTypeNotAllowed(name_rejected_type(data))
    if photo_format == PhotoFormat.HEIC and not is_heic_supported():
        raise PhotoTypeNotAllowed("heic_unsupported")
    try:
        check_layout(data, photo_format)
    except LayoutHasTrailingData as trailing:
        # Re-encoding would drop the payload anyway; refusing keeps polyglots out of logs,
        # virus scanners and anyone who later reads the raw upload.
        raise PhotoTypeNotAllowed("trailing_data", trailing_bytes=trailing.args[0]) from None
    except LayoutBroken as broken:
        raise PhotoCorrupt(f"{photo_format}: {broken}") from None
    return photo_format


@contextlib.contextmanager
def _open_checked(data: bytes, photo_format: PhotoFormat, max_pixels: int) -> Iterator[Image.Image]:
    """Open (header only), check Pillow agrees on the type and the pixel count, then yield."""
    expected = _PILLOW_FORMATS[photo_format]
    try:
        # Pillow raises above 2x Image.MAX_IMAGE_PIXELS and warns above 1x; the warning
        # only becomes an exception where warnings are errors (the tests), so the
        # explicit size check below is what holds in production. Global state is untouched.
        opened = Image.open(io.BytesIO(data), formats=sorted(expected))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise PhotoTooManyPixels(str(bomb), limit=max_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise PhotoCorrupt(f"{photo_format}: {error}") from None
    with opened:
        if opened.format not in expected:
            raise PhotoTypeNotAllowed(f"content is {opened.format}, magic said {photo_format}")
        width, height = opened.size
        if width * height > max_pixels:
            raise PhotoTooManyPixels(
                f"{width}x{height}", width=width, height=height, limit=max_pixels
            )
        yield opened


def _decode_upright(opened: Image.Image) -> Image.Image:
    try:
        opened.load()
        # Phones store sensor-oriented pixels plus an Orientation tag; the tag is about
        # to be discarded with the rest of EXIF, so it must be applied first.
        upright = ImageOps.exif_transpose(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise PhotoTooManyPixels(str(bomb)) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise PhotoCorrupt(str(error)) from None
    return upright


_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


def _to_plain_rgb(image: Image.Image) -> Image.Image:
    """RGB on white (JPEG has no alpha), with an empty `info` so nothing is carried over."""
    if image.mode in _SIXTEEN_BIT_MODES:
        image = image.point(lambda value: value / 256, "L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image.alpha_composite(rgba)
    plain = image.convert("RGB")
    # JPEG save copies im.info["comment"] by default; ICC/XMP/EXIF are dropped too.
    plain.info = {}
    return plain


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


# --- storage -------------------------------------------------------------------------

_STORAGE_NAME = re.compile(r"[0-9a-f]{32}")


class PhotoNameInvalid(ValueError):
    """A stored-photo name that random_storage_name() could not have produced."""


class PhotoNotFound(LookupError):
    """No stored photo under this (well-formed) name."""


class PhotoStoreIsPublic(ValueError):
    """The store's directory lies inside a directory the web server publishes."""


def random_storage_name() -> str:
    """128 random bits as hex: unguessable, and nothing the uploader chose."""
    return secrets.token_hex(16)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class PhotoStore:
    """Files named by random_storage_name() in one private directory, written atomically."""

    def __init__(self, directory: Path | str, *, public_roots: Iterable[Path | str] = ()) -> None:
        self.directory = Path(directory).resolve()
        for root in public_roots:
            if self.directory.is_relative_to(Path(root).resolve()):
                raise PhotoStoreIsPublic(f"{self.directory} is inside {root}")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def save(self, data: bytes) -> str:
        """Write under a new random name; on any failure nothing is left behind."""
        name = random_storage_name()
        final = self.directory / name
        # mkstemp creates the file 0600 whatever the umask; same directory keeps
        # os.replace a rename on one filesystem, hence atomic.
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".partial-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
            _fsync_directory(self.directory)
        except BaseException:
            for leftover in (temporary, final):  # final exists only if the last sync failed
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            raise
        return name

    def read(self, name: str) -> bytes:
        try:
            # O_NOFOLLOW: a symlink planted in the directory is not followed out of it.
            descriptor = os.open(self.path_of(name), os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise PhotoNotFound(name) from None
        with os.fdopen(descriptor, "rb") as handle:
            return handle.read()

    def delete(self, name: str) -> None:
        """Idempotent, so cleanup after a failed request can run more than once."""
        self.path_of(name).unlink(missing_ok=True)

    def path_of(self, name: str) -> Path:
        if not isinstance(name, str) or not _STORAGE_NAME.fullmatch(name):
            raise PhotoNameInvalid(repr(name))
        return self.directory / name
