"""Personal data at rest: phones and streets sealed with AES-GCM, found again by a blind index.

What a stolen database file or dump shows of a customer is no phone and no street: the
columns that hold them (and the places they are copied to: raw channel payloads, queued
jobs, audit details, the message log) store `pd1:<key id>:<base64 nonce‖ciphertext>`.
The ORM opens them on the way out, so services and pages read plaintext as before.

- Each value is bound to its column (the AES-GCM associated data is "table.column"), so a
  ciphertext copied into another column does not open.
- Keys rotate without downtime: the ring holds every key still in use; the first one seals
  new values, any of them opens old ones. `portal rotate-data-key` reseals old rows in
  small batches while the app runs; a key leaves the ring only after that.
- A sealed value can't be compared in SQL (every sealing has a fresh nonce), so the
  encrypted column types refuse comparisons outright, and lookups go through
  `phone_index`: HMAC-SHA256 of the normalised number under its own key. The index
  shows which rows share a phone, and nothing else (no order, no prefix search); the last
  four digits are kept apart (`phone_last4`) for staff search by "last 4 + name".

Without PORTAL_DATA_KEYS the development ring below is used, which is public: start is
refused with an https base URL and no keys (portal/settings.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from backend.phones import normalize_mobile

PREFIX = "pd1"
NONCE_BYTES = 12
KEY_BYTES = 32


class SealedValueUnreadable(ValueError):
    """A sealed value whose key is not in the ring, or that was altered or moved."""


class EncryptedColumnCompared(TypeError):
    """SQL compared an encrypted column: it would silently match nothing. Use the index."""


@dataclass(frozen=True)
class Keyring:
    keys: Mapping[str, bytes]  # key id -> 32-byte AES key
    current: str  # the id new values are sealed with
    index_key: bytes  # HMAC key of the blind index (never rotated with the data keys)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError("the current data key is not in the ring")
        for key_id, key in self.keys.items():
            if not key_id or ":" in key_id or len(key) != KEY_BYTES:
                raise ValueError(f"data key {key_id!r}: an id without ':' and 32 bytes")

    def seal(self, plaintext: str, where: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), where.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}:{self.current}:{token}"

    def open(self, value: str, where: str) -> str:
        prefix, _, rest = value.partition(":")
        key_id, _, token = rest.partition(":")
        if prefix != PREFIX:
            # Not sealed (a row written before the migration reached it): as stored.
            return value
        key = self.keys.get(key_id)
        if key is None:
            raise SealedValueUnreadable(f"{where}: data key {key_id!r} is not in the ring")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return (
                AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], where.encode()).decode()
            )
        except (InvalidTag, ValueError) as error:
            raise SealedValueUnreadable(
                f"{where}: altered, or sealed for another column"
            ) from error

    def key_of(self, value: str | None) -> str | None:
        """The id of the key a stored value is sealed with (None: not sealed)."""
        if value is None or not value.startswith(PREFIX + ":"):
            return None
        return value.split(":", 2)[1]

    def phone_index(self, phone: str) -> str:
        number = normalize_mobile(phone) or phone.strip()
        return hmac.new(self.index_key, number.encode(), hashlib.sha256).hexdigest()


def _derived(label: str) -> bytes:
    return hashlib.sha256(f"order-portal development {label}".encode()).digest()


# Public on purpose (it is in the source): for tests, the demo and http://localhost only.
DEVELOPMENT_RING = Keyring(
    keys={"dev": _derived("data key")}, current="dev", index_key=_derived("blind index")
)


def parse_keyring(data_keys: tuple[str, ...], index_key: str) -> Keyring:
    """("2026a:<base64 32 bytes>", ...) and a base64 index key; the first data key is current."""
    keys: dict[str, bytes] = {}
    for entry in data_keys:
        key_id, sep, encoded = entry.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if not sep or not key_id or len(key) != KEY_BYTES:
            raise ValueError(
                f"PORTAL_DATA_KEYS: {key_id or entry[:8]!r} is not id:<base64 32 bytes>"
            )
        keys[key_id] = key
    try:
        index = base64.b64decode(index_key, validate=True)
    except ValueError:
        index = b""
    if len(index) < 16:
        raise ValueError("PORTAL_BLIND_INDEX_KEY must be base64 of at least 16 bytes")
    return Keyring(keys=keys, current=next(iter(keys)), index_key=index)


_ring: Keyring = DEVELOPMENT_RING


def install(ring: Keyring) -> None:
    """The ring every encrypted column uses in this process; set once at start."""
    global _ring
    _ring = ring


def ring() -> Keyring:
    return _ring


def phone_index(phone: str) -> str:
    return _ring.phone_index(phone)


def last4(phone: str) -> str:
    digits = "".join(ch for ch in (normalize_mobile(phone) or phone) if ch.isdigit())
    return digits[-4:]


class SealedColumnType(TypeDecorator[Any]):
    impl = Text
    cache_ok = True

    class comparator_factory(Text.Comparator[Any]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if getattr(op, "__name__", "") in {"is_", "is_not", "isnot"}:
                return super().operate(op, *other, **kwargs)
            raise EncryptedColumnCompared(
                f"{self.expr} is encrypted: compare its blind index, or compare in Python"
            )

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where


class EncryptedString(SealedColumnType):
    """A text column sealed at rest; `where` is its "table.column"."""

    cache_ok = True  # `where` is its only state, and a plain string

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _ring.seal(str(value), self.where)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else _ring.open(value, self.where)


class EncryptedJSON(SealedColumnType):
    """A JSON value sealed at rest (stored as text)."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _ring.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")), self.where)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):  # PostgreSQL json before the migration reached it
            return value
        return json.loads(_ring.open(value, self.where))
