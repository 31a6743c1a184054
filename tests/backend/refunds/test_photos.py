"""Return-photo sanitizing: real images made here with Pillow, and attack files built by hand."""

import hashlib
import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

from backend.refunds import photos
from backend.refunds.photo_layout import PhotoFormat, walk_jpeg
from backend.refunds.photos import (
    PhotoCorrupt,
    PhotoRejected,
    PhotoTooLarge,
    PhotoTooManyPixels,
    PhotoTypeNotAllowed,
    TooManyPhotos,
    check_photo_count,
    is_heic_supported,
    sanitize_photo,
)

RED, BLUE = (220, 20, 20), (20, 20, 220)


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    if image_format == "HEIF":
        assert is_heic_supported()  # registers the opener that also saves HEIF
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def two_colour(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """Left half red, right half blue, so a rotation shows in the pixels."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def private_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretPhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 5.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 1.0)
    return exif


METADATA = {
    "exif": private_exif(),
    "icc_profile": b"fake-icc-profile-" * 8,
    "xmp": b"<x:xmpmeta>secret-xmp</x:xmpmeta>",
}


def jpeg(**options: object) -> bytes:
    return encode(two_colour(), "JPEG", **options)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, pixels: bytes | None = None) -> bytes:
    """A few hundred bytes whose header claims width x height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024) if pixels is None else pixels)
        + png_chunk(b"IEND", b"")
    )


def assert_clean_jpeg(data: bytes) -> Image.Image:
    """A single, structurally whole JPEG carrying no metadata at all."""
    assert walk_jpeg(data, 0).end == len(data)
    for secret in (b"Exif", b"SecretPhoneMaker", b"secret", b"ICC_PROFILE", b"http://ns.adobe"):
        assert secret not in data
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
    return image


def near(actual: object, expected: tuple[int, int, int]) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) < 40 for a, e in zip(actual, expected, strict=True))


ALLOWED = [
    ("jpeg", lambda: jpeg(comment=b"secret-comment", **METADATA), PhotoFormat.JPEG),
    ("png", lambda: encode(two_colour(), "PNG", exif=private_exif()), PhotoFormat.PNG),
    ("webp", lambda: encode(two_colour(), "WEBP", **METADATA), PhotoFormat.WEBP),
    ("heic", lambda: encode(two_colour(), "HEIF", exif=private_exif()), PhotoFormat.HEIC),
    ("mpo", lambda: encode(two_colour(), "MPO", save_all=True, append_images=[two_colour()]),
     PhotoFormat.JPEG),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "source_format"), ALLOWED)
def test_allowed_photos_come_out_as_jpeg_without_metadata(
    name: str, build: Callable[[], bytes], source_format: PhotoFormat
) -> None:
    result = sanitize_photo(build())
    assert result.source_format is source_format
    assert (result.width, result.height) == (60, 40)
    image = assert_clean_jpeg(result.image)
    assert image.size == (60, 40)
    assert near(image.getpixel((5, 20)), RED)
    assert near(image.getpixel((55, 20)), BLUE)
    assert result.sha256 == hashlib.sha256(result.image).hexdigest()
    assert result.media_type == "image/jpeg"
    assert_clean_jpeg(result.thumbnail)


def test_gps_and_camera_tags_are_gone_from_a_phone_jpeg() -> None:
    original = jpeg(exif=private_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    image = assert_clean_jpeg(sanitize_photo(original).image)
    assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}


# Orientation 6: the camera held upright stored the pixels rotated; viewers turn them
# 90 degrees clockwise, so the red left half ends up on top.
ORIENTATIONS = [(1, (60, 40), "left"), (3, (60, 40), "right"), (6, (40, 60), "top"),
                (8, (40, 60), "bottom")]  # fmt: skip


@pytest.mark.parametrize(("orientation", "size", "red_side"), ORIENTATIONS)
def test_an_orientation_tagged_jpeg_comes_out_upright(
    orientation: int, size: tuple[int, int], red_side: str
) -> None:
    result = sanitize_photo(jpeg(exif=private_exif(orientation)))
    image = assert_clean_jpeg(result.image)
    assert image.size == size == (result.width, result.height)
    width, height = size
    red_at = {
        "left": (2, height // 2),
        "right": (width - 3, height // 2),
        "top": (width // 2, 2),
        "bottom": (width // 2, height - 3),
    }[red_side]
    assert near(image.getpixel(red_at), RED)


def test_a_transparent_png_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (0, 0, 10, 20))
    info = PngInfo()
    info.add_text("Comment", "secret text chunk")
    result = assert_clean_jpeg(sanitize_photo(encode(image, "PNG", pnginfo=info)).image)
    assert near(result.getpixel((2, 10)), (0, 0, 0))
    assert near(result.getpixel((17, 10)), (255, 255, 255))


@pytest.mark.parametrize("mode", ["I;16", "L", "P", "CMYK", "1", "LA"])
def test_unusual_pixel_modes_still_become_rgb_jpeg(mode: str) -> None:
    image_format = "JPEG" if mode == "CMYK" else "PNG"
    data = encode(Image.new("RGB", (16, 16), RED).convert(mode), image_format)
    assert assert_clean_jpeg(sanitize_photo(data).image).mode == "RGB"


def test_the_thumbnail_keeps_the_aspect_ratio_within_320_pixels() -> None:
    result = sanitize_photo(encode(Image.new("RGB", (1000, 500), RED), "JPEG"))
    assert (result.thumbnail_width, result.thumbnail_height) == (320, 160)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (320, 160)
    assert (result.width, result.height) == (1000, 500)


def test_the_same_upload_gives_the_same_bytes_and_hash() -> None:
    data = jpeg()
    assert sanitize_photo(data).sha256 == sanitize_photo(data).sha256


# --- what is refused ------------------------------------------------------------------

SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PHP = b"<?php system($_GET['c']); ?>"
ZIP = b"PK\x03\x04" + b"\x00" * 26 + b"shell.php"

NOT_ALLOWED = [
    ("svg with script", lambda: SVG, "svg"),
    ("svg behind a byte-order mark", lambda: b"\xef\xbb\xbf  " + SVG, "svg"),
    ("html renamed .jpg", lambda: HTML, "html"),
    ("pdf", lambda: PDF, "pdf"),
    ("gif", lambda: encode(two_colour(), "GIF"), "gif"),
    ("bmp", lambda: encode(two_colour(), "BMP"), "bmp"),
    ("tiff", lambda: encode(two_colour(), "TIFF"), "tiff"),
    ("avif", lambda: encode(two_colour(), "AVIF"), "avif"),
    ("zip", lambda: ZIP, "zip"),
    ("php", lambda: PHP, "php"),
    ("text", lambda: b"just some words", "unknown"),
    ("php before a jpeg", lambda: PHP + jpeg(), "php"),
    ("junk before a jpeg", lambda: b"JUNK" + jpeg(), "leading_data"),
    ("jpeg + html polyglot", lambda: jpeg() + HTML, "trailing_data"),
    ("jpeg + zip polyglot", lambda: jpeg() + ZIP, "trailing_data"),
    ("jpeg + php polyglot", lambda: jpeg() + PHP, "trailing_data"),
    ("jpeg + jpeg without MPF", lambda: jpeg() + jpeg(), "trailing_data"),
    ("png + html polyglot", lambda: encode(two_colour(), "PNG") + HTML, "trailing_data"),
    ("webp + html polyglot", lambda: encode(two_colour(), "WEBP") + HTML, "trailing_data"),
    ("heic + html polyglot", lambda: encode(two_colour(), "HEIF") + HTML, "trailing_data"),
]


@pytest.mark.parametrize(("name", "build", "detail"), NOT_ALLOWED)
def test_anything_but_a_plain_photo_is_refused_by_content(
    name: str, build: Callable[[], bytes], detail: str
) -> None:
    with pytest.raises(PhotoTypeNotAllowed) as refused:
        sanitize_photo(build())
    assert refused.value.detail == detail
    assert refused.value.code == "photo_type_not_allowed"


def test_a_payload_hidden_in_a_jpeg_comment_does_not_survive_re_encoding() -> None:
    result = sanitize_photo(jpeg(comment=HTML))
    assert b"script" not in result.image
    assert_clean_jpeg(result.image)


def test_heic_is_refused_clearly_when_no_decoder_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encode(two_colour(), "HEIF")
    monkeypatch.setattr(photos, "is_heic_supported", lambda: False)
    with pytest.raises(PhotoTypeNotAllowed) as refused:
        sanitize_photo(data)
    assert refused.value.detail == "heic_unsupported"


def first_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


CORRUPT = [
    ("zero bytes", lambda: b""),
    ("truncated jpeg", lambda: first_half(jpeg())),
    ("jpeg missing only its EOI", lambda: jpeg()[:-2]),
    ("bare jpeg magic", lambda: b"\xff\xd8\xff"),
    ("truncated png", lambda: first_half(encode(two_colour(), "PNG"))),
    ("truncated webp", lambda: first_half(encode(two_colour(), "WEBP"))),
    ("truncated heic", lambda: first_half(encode(two_colour(), "HEIF"))),
    ("png signature then junk", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    # Well-formed chunks with valid CRCs, so only the decoder can notice.
    ("png whose pixel data is not zlib", lambda: png_declaring(8, 8, pixels=b"\x07" * 16)),
]


@pytest.mark.parametrize(("name", "build"), CORRUPT)
def test_truncated_and_corrupt_images_are_refused(name: str, build: Callable[[], bytes]) -> None:
    with pytest.raises(PhotoCorrupt) as refused:
        sanitize_photo(build())
    assert refused.value.code == "photo_corrupt"


def test_a_30_mb_blob_is_refused_before_anything_decodes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("decoded an oversized upload")

    monkeypatch.setattr(Image, "open", never)
    with pytest.raises(PhotoTooLarge) as refused:
        sanitize_photo(b"\xff\xd8\xff" + bytes(30 * 1024 * 1024))
    assert dict(refused.value.params) == {"size": 30 * 1024 * 1024 + 3, "limit": 10 * 1024 * 1024}


def test_the_byte_limit_is_configurable_and_inclusive() -> None:
    data = jpeg()
    assert sanitize_photo(data, max_bytes=len(data)).width == 60
    with pytest.raises(PhotoTooLarge):
        sanitize_photo(data, max_bytes=len(data) - 1)


BOMBS = [
    ("pillow's hard limit (400 Mpx)", 20_000, 20_000),
    ("pillow's warning band (100 Mpx)", 10_000, 10_000),
    ("our own limit (64 Mpx)", 8_000, 8_000),
]


@pytest.mark.parametrize(("name", "width", "height"), BOMBS)
def test_decompression_bombs_are_refused_from_the_header(
    name: str, width: int, height: int
) -> None:
    limit_before = Image.MAX_IMAGE_PIXELS
    bomb = png_declaring(width, height)
    assert len(bomb) < 200
    with pytest.raises(PhotoTooManyPixels) as refused:
        sanitize_photo(bomb)
    assert refused.value.code == "photo_too_many_pixels"
    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_the_pixel_limit_is_configurable() -> None:
    data = jpeg()  # 60 x 40 = 2400 pixels
    assert sanitize_photo(data, max_pixels=2_400).height == 40
    with pytest.raises(PhotoTooManyPixels) as refused:
        sanitize_photo(data, max_pixels=2_399)
    assert dict(refused.value.params) == {"width": 60, "height": 40, "limit": 2_399}


@pytest.mark.parametrize(("count", "allowed"), [(0, True), (1, True), (6, True), (7, False)])
def test_up_to_six_photos_are_accepted(count: int, allowed: bool) -> None:
    if allowed:
        check_photo_count(count)
        return
    with pytest.raises(TooManyPhotos) as refused:
        check_photo_count(count)
    assert refused.value.code == "too_many_photos"
    assert dict(refused.value.params) == {"count": count, "limit": 6}


def test_the_photo_count_limit_is_configurable() -> None:
    check_photo_count(9, limit=9)
    with pytest.raises(TooManyPhotos):
        check_photo_count(2, limit=1)
    with pytest.raises(ValueError):
        check_photo_count(-1)


def test_every_refusal_has_its_own_machine_code() -> None:
    refusals = [PhotoTooLarge, PhotoTooManyPixels, PhotoTypeNotAllowed, PhotoCorrupt, TooManyPhotos]
    codes = [refusal.code for refusal in refusals]
    assert len(set(codes)) == len(codes)
    assert all(issubclass(refusal, PhotoRejected) for refusal in refusals)
