"""Byte-level photo checks: magic numbers and where each container really ends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class PhotoFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIC = "heic"


class LayoutBroken(ValueError):
    """The container is cut short or its structure does not parse."""


class LayoutHasTrailingData(ValueError):
    """Bytes follow the image's end marker: the shape of a polyglot file."""


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# Brands that promise HEVC-coded HEIF; "avif" or a bare "mif1" do not.
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})


def sniff_format(data: bytes) -> PhotoFormat | None:
    """The allowed format whose magic starts at byte 0, or None: no scanning for it further in."""
    if data.startswith(JPEG_MAGIC):
        return PhotoFormat.JPEG
    if data.startswith(PNG_SIGNATURE):
        return PhotoFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return PhotoFormat.WEBP
    if data[4:8] == b"ftyp" and HEIC_BRANDS & set(_ftyp_brands(data)):
        return PhotoFormat.HEIC
    return None


def _ftyp_brands(data: bytes) -> list[bytes]:
    size = int.from_bytes(data[0:4], "big")
    body = data[8 : min(size, 256)]  # major brand, minor version, compatible brands
    return [body[0:4]] + [body[i : i + 4] for i in range(8, len(body) - 3, 4)]


# Only for the log and the error detail; the decision is the allow-list above.
_NAMED_TYPES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("pdf", re.compile(rb"%PDF-")),
    ("gif", re.compile(rb"GIF8[79]a")),
    ("zip", re.compile(rb"PK\x03\x04")),
    ("bmp", re.compile(rb"BM")),
    ("tiff", re.compile(rb"II\*\x00|MM\x00\*")),
    ("avif", re.compile(rb"....ftypavi[fs]", re.DOTALL)),
    ("php", re.compile(rb"\s*<\?php", re.IGNORECASE)),
    ("svg", re.compile(rb"(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<svg", re.I | re.S)),
    ("html", re.compile(rb"(\xef\xbb\xbf)?\s*<", re.IGNORECASE)),
)
_ALLOWED_MAGICS = (JPEG_MAGIC, PNG_SIGNATURE, b"WEBP", b"ftypheic")


def name_rejected_type(data: bytes) -> str:
    """A short name for a rejected upload ("svg", "leading_data", "unknown", ...)."""
    head = data[:4096]
    for name, pattern in _NAMED_TYPES:
        if pattern.match(head):
            return name
    if any(magic in head for magic in _ALLOWED_MAGICS):
        return "leading_data"
    return "unknown"


def check_layout(data: bytes, photo_format: PhotoFormat) -> None:
    """Raise LayoutBroken or LayoutHasTrailingData unless the container fills the data exactly."""
    if photo_format == PhotoFormat.JPEG:
        _check_jpeg(data)
    elif photo_format == PhotoFormat.PNG:
        _check_png(data)
    elif photo_format == PhotoFormat.WEBP:
        _check_webp(data)
    else:
        _check_isobmff(data)


@dataclass(frozen=True)
class JpegStream:
    end: int  # offset just past EOI
    declares_more_images: bool  # an APP2 "MPF" segment (MPO, Ultra HDR gain map)


def _check_jpeg(data: bytes) -> None:
    first = walk_jpeg(data, 0)
    end = first.end
    # Multi-picture JPEGs (camera MPO, Android Ultra HDR, iPhone HDR gain maps) legally
    # append whole JPEG streams after the first EOI; allowed only when MPF announces them.
    while end < len(data) and first.declares_more_images and data.startswith(JPEG_MAGIC, end):
        end = walk_jpeg(data, end).end
    if end != len(data):
        raise LayoutHasTrailingData(len(data) - end)


_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


def walk_jpeg(data: bytes, start: int) -> JpegStream:
    """Follow one JPEG stream's segments from SOI to EOI."""
    if not data.startswith(b"\xff\xd8", start):
        raise LayoutBroken("no SOI")
    position, declares_more = start + 2, False
    while True:
        if position >= len(data) or data[position] != 0xFF:
            raise LayoutBroken(f"no marker at {position}")
        while position < len(data) and data[position] == 0xFF:
            position += 1  # fill bytes may pad before a marker
        if position >= len(data):
            raise LayoutBroken("truncated before a marker")
        marker = data[position]
        position += 1
        if marker == 0xD9:
            return JpegStream(position, declares_more)
        if marker in _STANDALONE_MARKERS:
            continue
        length = int.from_bytes(data[position : position + 2], "big")
        if marker == 0x00 or length < 2 or position + length > len(data):
            raise LayoutBroken(f"bad segment {marker:#x} at {position}")
        if marker == 0xE2 and data.startswith(b"MPF\x00", position + 2):
            declares_more = True
        position += length
        if marker == 0xDA:
            position = _skip_entropy_coded(data, position)


def _skip_entropy_coded(data: bytes, position: int) -> int:
    """Offset of the next real marker after scan data (0xFF00 is a stuffed byte, RSTn inline)."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            raise LayoutBroken("scan data runs off the end")
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2
        elif following == 0xFF:
            position += 1
        else:
            return position


_CHUNK_TYPE = re.compile(rb"[A-Za-z]{4}")


def _check_png(data: bytes) -> None:
    position = len(PNG_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise LayoutBroken("truncated chunk header")
        length = int.from_bytes(data[position : position + 4], "big")
        chunk_type = data[position + 4 : position + 8]
        if length > 0x7FFFFFFF or not _CHUNK_TYPE.fullmatch(chunk_type):
            raise LayoutBroken(f"bad chunk at {position}")
        position += 12 + length
        if position > len(data):
            raise LayoutBroken("truncated chunk")
        if chunk_type == b"IEND":
            break
    if position != len(data):
        raise LayoutHasTrailingData(len(data) - position)


def _check_webp(data: bytes) -> None:
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise LayoutBroken("RIFF size beyond the data")
    if end != len(data):
        raise LayoutHasTrailingData(len(data) - end)


# Top-level boxes ISO/IEC 14496-12 and HEIF (23008-12) allow; vendors extend through "uuid".
_TOP_LEVEL_BOXES = frozenset(
    b"ftyp meta mdat moov free skip uuid wide pdin moof mfra styp sidx ssix prft emsg meco "
    b"etyp idat".split()
)


def _check_isobmff(data: bytes) -> None:
    """HEIF is a run of top-level boxes that must tile the file exactly."""
    position = 0
    while position < len(data):
        header = data[position : position + 16]
        if len(header) < 8 or header[4:8] not in _TOP_LEVEL_BOXES:
            # Not a box HEIF has at top level: something was glued on after the last one.
            raise LayoutHasTrailingData(len(data) - position)
        size = int.from_bytes(header[0:4], "big")
        if size == 0:
            return  # the last box runs to the end of the file
        if size == 1:
            size = int.from_bytes(header[8:16], "big")
        if size < 8 or position + size > len(data):
            raise LayoutBroken(f"{header[4:8]!r} box at {position} runs past the end")
        position += size
