"""The merchant's shops: read once from the shops file (or the old per-channel secrets), synced.

A merchant runs several stores per platform (two Tmall stores, one Douyin shop per
brand); each has its own push secret, API credentials and API base URL. They are
configured in one place, a TOML or JSON file, and loaded into a frozen ShopDirectory at
start-up. Without a file, the old settings (one Shopify secret, channel=secret pairs)
define one default shop per channel, whose code is the channel's name.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import audit
from backend.actors import Actor, ActorKind
from backend.db import Database
from backend.orders.models import SalesChannel, Shop
from backend.staff.permissions import Permission, check_permission

SHOP_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class ShopsFileInvalid(ValueError):
    """The shops file cannot be read, or one of its shops is incomplete; nothing was loaded."""


@dataclass(frozen=True)
class ShopConfig:
    """One store and what the portal needs to hear from it and to answer it."""

    code: str
    channel: SalesChannel
    name: str
    # What the platform signs its pushes to us with (TOP/PDD/JD/Douyin app secret, Shopify's
    # client secret); empty: pushes for the shop are refused.
    webhook_secret: str = field(default="", repr=False)  # kept out of logs and tracebacks
    app_key: str = ""
    app_secret: str = field(default="", repr=False)
    # The seller's authorisation: TOP `session`, PDD/JD/Douyin `access_token`, Shopify's
    # Admin API access token.
    session_token: str = field(default="", repr=False)
    api_base_url: str = ""
    platform_shop_id: str = ""
    # The shop behind the channel's old URL without a shop code (/webhooks/channels/tmall).
    default: bool = False

    @property
    def can_call_api(self) -> bool:
        return bool(self.app_key or self.session_token) and bool(self.api_base_url)


@dataclass(frozen=True)
class ShopDirectory:
    shops: tuple[ShopConfig, ...] = ()
    _by_code: Mapping[str, ShopConfig] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {shop.code: shop for shop in self.shops})

    def get(self, code: str) -> ShopConfig | None:
        return self._by_code.get(code)

    def for_push(self, channel: str, code: str | None) -> ShopConfig | None:
        """The shop a push URL names (or the channel's default shop); None: no such endpoint."""
        if code is None:
            return self.default_for(channel)
        shop = self._by_code.get(code)
        return shop if shop is not None and shop.channel == channel else None

    def default_for(self, channel: str) -> ShopConfig | None:
        """The shop flagged default for the channel, else its first one in the file."""
        mine = [shop for shop in self.shops if shop.channel == channel]
        return next((shop for shop in mine if shop.default), mine[0] if mine else None)


# Channels whose push URL exists (portal/routes/webhooks.py): each gets a default shop.
PUSH_CHANNELS = ("shopify", "taobao", "tmall", "jd", "pinduoduo", "douyin")


def default_shops(shopify_secret: str, channel_secrets: Mapping[str, str]) -> ShopDirectory:
    """One default shop per channel from the settings the portal had before shops."""
    secrets = {"shopify": shopify_secret, **channel_secrets}
    return ShopDirectory(
        tuple(
            ShopConfig(
                code=channel,
                channel=SalesChannel(channel),
                name=channel,
                webhook_secret=secrets.get(channel, ""),
                default=True,
            )
            for channel in PUSH_CHANNELS
        )
    )


TEXT_FIELDS = (
    "name",
    "webhook_secret",
    "app_key",
    "app_secret",
    "session_token",
    "api_base_url",
    "platform_shop_id",
)


def _shop(entry: object, index: int) -> ShopConfig:
    where = f"shops[{index}]"
    if not isinstance(entry, dict):
        raise ShopsFileInvalid(f"{where}: not a table")
    code = entry.get("code")
    if not isinstance(code, str) or not code or not set(code) <= SHOP_CODE_CHARS:
        raise ShopsFileInvalid(f"{where}.code: lower-case letters, digits, - and _ only")
    try:
        channel = SalesChannel(str(entry.get("channel")))
    except ValueError:
        raise ShopsFileInvalid(f"{where}.channel: unknown channel") from None
    unknown = set(entry) - {"code", "channel", "default", *TEXT_FIELDS}
    if unknown:
        raise ShopsFileInvalid(f"{where}: unknown fields {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = entry.get(name, "")
        if not isinstance(value, str):
            raise ShopsFileInvalid(f"{where}.{name}: not text")
        values[name] = value
    values["name"] = values["name"] or code
    # The app secret signs a platform's pushes unless a separate push secret is given.
    values["webhook_secret"] = values["webhook_secret"] or values["app_secret"]
    return ShopConfig(code=code, channel=channel, default=entry.get("default") is True, **values)


def parse_shops(document: Mapping[str, object]) -> ShopDirectory:
    entries = document.get("shops")
    if not isinstance(entries, list) or not entries:
        raise ShopsFileInvalid("shops: a list of at least one shop")
    shops = tuple(_shop(entry, index) for index, entry in enumerate(entries))
    codes = [shop.code for shop in shops]
    if len(set(codes)) != len(codes):
        raise ShopsFileInvalid("shops: two shops share a code")
    for channel in {shop.channel for shop in shops}:
        if sum(1 for shop in shops if shop.channel == channel and shop.default) > 1:
            raise ShopsFileInvalid(f"shops: two default shops for {channel}")
    return ShopDirectory(shops)


def load_shops_file(path: str | Path) -> ShopDirectory:
    """A `.toml` or `.json` file with a `shops` list (README, "Shops")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as error:
        raise ShopsFileInvalid(f"{path}: {error}") from None
    if not isinstance(document, dict):
        raise ShopsFileInvalid(f"{path}: not a table")
    return parse_shops(document)


def ensure_shop(session: Session, code: str, channel: SalesChannel) -> Shop:
    """The Shop row for `code`, made on first sight so intake never waits for a sync."""
    row = session.scalars(select(Shop).where(Shop.code == code)).first()
    if row is None:
        row = Shop(code=code, channel=channel, name=code)
        session.add(row)
        session.flush()
    return row


@dataclass(frozen=True)
class SyncResult:
    added: int
    updated: int
    deactivated: int


def _apply(session: Session, shops: Iterable[ShopConfig]) -> tuple[int, int, set[str]]:
    added = updated = 0
    codes = set()
    rows = {row.code: row for row in session.scalars(select(Shop).with_for_update())}
    for shop in shops:
        codes.add(shop.code)
        row = rows.get(shop.code)
        wanted = (shop.channel, shop.name, shop.platform_shop_id or None, True)
        if row is None:
            session.add(
                Shop(
                    code=shop.code,
                    channel=shop.channel,
                    name=shop.name,
                    platform_shop_id=shop.platform_shop_id or None,
                )
            )
            added += 1
        elif (row.channel, row.name, row.platform_shop_id, row.active) != wanted:
            row.channel, row.name, row.platform_shop_id, row.active = wanted
            updated += 1
    return added, updated, set(rows) - codes


def sync_shops(database: Database, directory: ShopDirectory, actor: Actor) -> SyncResult:
    """Upsert a Shop row per configured shop; rows no longer configured are deactivated.

    Deactivated, not deleted: their orders keep pointing at them.
    """
    check_permission(actor, Permission.MANAGE_STAFF, also={ActorKind.SYSTEM})
    with database.write() as session:
        added, updated, gone = _apply(session, directory.shops)
        deactivated = 0
        for row in session.scalars(select(Shop).where(Shop.code.in_(gone), Shop.active)):
            row.active = False
            deactivated += 1
        result = SyncResult(added, updated, deactivated)
        if added or updated or deactivated:
            audit.record(
                session,
                actor,
                "shops.synced",
                subject="shops",
                subject_id="all",
                after={"added": added, "updated": updated, "deactivated": deactivated},
            )
        return result
