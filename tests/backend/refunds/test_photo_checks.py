"""Blur, darkness and perceptual-hash checks on generated photos and their altered copies."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageStat

from backend.refunds import photo_checks
from backend.refunds.photo_checks import (
    MAX_HASH_DISTANCE,
    closest,
    format_hash,
    hash_distance,
    measure,
    open_for_checks,
    parse_hash,
)
from tests.photo_images import (
    blurred,
    dark_object_in_good_light,
    darkened,
    encode,
    photo_like,
    plain_object,
)


def measured(image: Image.Image, quality: int = 85) -> photo_checks.PhotoMeasures:
    return measure(open_for_checks(encode(image, "JPEG", quality=quality)))


@pytest.mark.parametrize("seed", range(6))
def test_a_sharp_well_lit_photo_is_neither_blurry_nor_dark(seed: int) -> None:
    result = measured(photo_like(seed, (1600, 1200)))
    assert not result.is_blurry and not result.is_dark


@pytest.mark.parametrize("seed", range(6))
def test_a_blurred_photo_is_blurry(seed: int) -> None:
    result = measured(blurred(photo_like(seed, (1600, 1200)), 4))
    assert result.is_blurry and not result.is_dark


@pytest.mark.parametrize("seed", range(6))
def test_a_dark_photo_is_dark(seed: int) -> None:
    assert measured(darkened(photo_like(seed))).is_dark


@pytest.mark.parametrize("seed", range(3))
def test_a_plain_item_on_a_plain_table_shot_sharp_is_kept_and_blurred_is_not(seed: int) -> None:
    scene = plain_object(seed)
    assert not measured(scene).is_blurry
    assert measured(blurred(scene, 3)).is_blurry


def test_a_black_item_filling_the_frame_in_good_light_is_not_dark() -> None:
    scene = dark_object_in_good_light()
    # Its mean luminance (~45) is at the threshold: a mean would refuse it.
    assert ImageStat.Stat(scene.convert("L")).mean[0] < photo_checks.MIN_BRIGHTNESS
    assert not measured(scene).is_dark
    assert measured(darkened(scene, 0.25)).is_dark


def test_a_flat_colour_image_is_blurry() -> None:
    assert measured(Image.new("RGB", (800, 600), (180, 90, 40))).is_blurry


def test_sharpness_is_judged_at_one_size_whatever_the_resolution() -> None:
    small = measured(photo_like(3, (800, 600))).sharpness
    large = measured(photo_like(3, (800, 600)).resize((3200, 2400))).sharpness
    # The large copy is the small one enlarged: no sharper, so it must not pass more easily.
    assert large <= small * 1.1


def test_a_tiny_image_measures_without_error() -> None:
    assert measure(Image.new("RGB", (2, 2))).sharpness == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_near_copies_hash_within_the_limit(seed: int) -> None:
    original = photo_like(seed)
    reference = measured(original).perceptual_hash
    width, height = original.size
    copies = [
        original.resize((400, 300)),
        original.resize((1200, 900)),
        Image.open(io.BytesIO(encode(original, "JPEG", quality=40))),
        original.crop((16, 12, width - 16, height - 12)),
    ]
    for copy in copies:
        assert hash_distance(reference, measured(copy).perceptual_hash) <= MAX_HASH_DISTANCE


def test_different_photos_hash_beyond_the_limit() -> None:
    hashes = [measured(photo_like(seed)).perceptual_hash for seed in range(12)]
    distances = [hash_distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > MAX_HASH_DISTANCE


def test_the_hash_has_64_bits_half_of_them_set() -> None:
    value = measured(photo_like(5)).perceptual_hash
    assert 0 <= value < 1 << 64
    assert 28 <= value.bit_count() <= 36  # above the median of 64 values: 32 of them


def test_hashes_round_trip_as_sixteen_hex_digits_even_with_bit_63_set() -> None:
    top = (1 << 63) | 5
    assert format_hash(top) == "8000000000000005"
    assert parse_hash(format_hash(top)) == top
    with pytest.raises(ValueError):
        format_hash(1 << 64)
    with pytest.raises(ValueError):
        parse_hash("abc")


def test_closest_picks_the_nearest_candidate_within_the_limit() -> None:
    target = 0
    candidates = [(1, format_hash(0b1111)), (2, format_hash(0b1)), (3, format_hash(2**40 - 1))]
    assert closest(target, candidates) == (2, 1)
    assert closest(target, [(3, format_hash(2**40 - 1))]) is None
