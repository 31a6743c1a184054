"""Background tracking work: subscribe new waybills, take in pushes, poll carriers without push.

A push is acknowledged as soon as it is verified and stored as a job row, so a slow
database never makes a carrier wait or retry; the worker merges it into the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend import jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.logistics.carriers import kuaidi100, sf
from backend.logistics.carriers.base import (
    Carrier,
    CarrierRejected,
    CircuitOpen,
    ParsedPush,
    TrackingQuery,
)
from backend.logistics.models import Shipment
from backend.logistics.service import SUBSCRIBE, ShipmentNotFound, record_tracking_update
from backend.logistics.status import TERMINAL_TRACKING_STATUSES, TrackingStatus
from backend.logistics.timeline import CarrierEvent
from backend.orders.models import AddressVersion, Order

log = logging.getLogger(__name__)

PUSH = "tracking.push"
POLL = "tracking.poll"
# Kuaidi100 locks a waybill that is queried more often than every half hour.
POLL_SPACING = timedelta(minutes=30)
POLL_BATCH = 50
RESUBSCRIBE_AFTER = timedelta(minutes=30)
# Carriers that ask for the recipient's phone (last four digits) to release a trajectory.
PHONE_CARRIERS = frozenset({"shunfeng", "shunfengkuaiyun", "zhongtong"})


@dataclass(frozen=True)
class TrackingClients:
    """The carrier clients the worker talks to; None where the merchant has not configured one."""

    kuaidi100: Carrier | None = None
    sf: TrackingQuery | None = None
    callback_url: str = ""
    poll_carriers: frozenset[str] = field(default_factory=frozenset)
    sf_op_codes: Mapping[str, TrackingStatus] = field(default_factory=lambda: sf.DEFAULT_OP_CODES)


def accept_push(database: Database, source: str, raw: str) -> None:
    """Keep a verified push (the raw payload stays on the job row for audit and replay)."""
    with database.write() as session:
        jobs.enqueue(session, PUSH, {"source": source, "raw": raw})


def _carrier_actor(source: str) -> Actor:
    return Actor(ActorKind.CARRIER, source, channel="webhook")


def _record(database: Database, parsed: ParsedPush) -> None:
    events, source, full = list(parsed.events), parsed.source, parsed.full_history
    if parsed.needs_resubscribe and not events:
        # Kuaidi100 stopped watching: show it (kept apart from the carrier's own history, so
        # the next full snapshot does not erase it), and subscribe again once it allows.
        message = parsed.monitor_message or "快递100已停止跟踪该运单"
        events = [CarrierEvent(utcnow(), TrackingStatus.EXPIRED, message, "abort")]
        source, full = f"{parsed.source}-monitor", False
    try:
        record_tracking_update(
            database,
            parsed.carrier_code,
            parsed.tracking_no,
            events,
            source=source,
            full_history=full,
            actor=_carrier_actor(parsed.source),
        )
    except ShipmentNotFound:
        # Not ours (or already purged): acknowledged, logged, never retried.
        log.info("push for an unknown waybill of %s ignored", parsed.carrier_code)
        return
    if parsed.needs_resubscribe:
        _schedule_resubscribe(database, parsed)


def _schedule_resubscribe(database: Database, parsed: ParsedPush) -> None:
    with database.write() as session:
        shipment_id = session.scalar(
            select(Shipment.id).where(
                Shipment.carrier_code == parsed.carrier_code,
                Shipment.tracking_no == parsed.tracking_no,
            )
        )
        if shipment_id is not None:
            day = utcnow().strftime("%Y%m%d%H")
            jobs.enqueue(
                session,
                SUBSCRIBE,
                {"shipment_id": shipment_id},
                key=f"resubscribe:{shipment_id}:{day}",
                run_at=utcnow() + RESUBSCRIBE_AFTER,
            )


def process_push(database: Database, clients: TrackingClients, payload: dict[str, Any]) -> None:
    """Job handler: the same push twice changes nothing, so a rerun is harmless."""
    source, raw = payload["source"], payload["raw"]
    if source == kuaidi100.SOURCE:
        _record(database, kuaidi100.parse_push(raw))
    elif source == sf.SOURCE:
        for parsed in sf.parse_route_push(raw, clients.sf_op_codes):
            _record(database, parsed)
    else:
        raise jobs.GiveUp(f"unknown push source {source!r}")


@dataclass(frozen=True)
class _Waybill:
    id: int
    carrier_code: str
    tracking_no: str
    phone: str | None
    destination: str | None


def _waybills(database: Database, *conditions: Any, limit: int | None = None) -> list[_Waybill]:
    statement = (
        select(
            Shipment.id,
            Shipment.carrier_code,
            Shipment.tracking_no,
            AddressVersion.phone,
            AddressVersion.city,
        )
        .join(Order, Order.id == Shipment.order_id)
        .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
        .where(*conditions)
        .order_by(Shipment.last_synced_at.is_not(None), Shipment.last_synced_at)
    )
    if limit:
        statement = statement.limit(limit)
    with database.read() as session:
        return [_Waybill(*row) for row in session.execute(statement)]


def _phone_for(waybill: _Waybill) -> str | None:
    if waybill.carrier_code in PHONE_CARRIERS and waybill.phone:
        return waybill.phone[-4:]
    return None


def _retry_when_open(error: CircuitOpen) -> jobs.RetryLater:
    return jobs.RetryLater(timedelta(seconds=max(error.retry_after, 1)), str(error))


def subscribe_shipment(
    database: Database, clients: TrackingClients, payload: dict[str, Any]
) -> None:
    """Job handler: ask Kuaidi100 to push this waybill's updates to us."""
    found = _waybills(
        database,
        Shipment.id == payload["shipment_id"],
        Shipment.status.not_in([str(s) for s in TERMINAL_TRACKING_STATUSES]),
    )
    if not found or clients.kuaidi100 is None:
        return  # gone, already at the end of its journey, or no Kuaidi100 account
    waybill = found[0]
    if waybill.carrier_code in clients.poll_carriers:
        return  # polled instead; nothing to subscribe
    try:
        clients.kuaidi100.subscribe(
            waybill.carrier_code,
            waybill.tracking_no,
            callback_url=clients.callback_url,
            phone=_phone_for(waybill),
            destination=waybill.destination,
        )
    except CircuitOpen as error:
        raise _retry_when_open(error) from error
    except CarrierRejected as error:
        raise jobs.GiveUp(str(error)) from error


def _query_client(clients: TrackingClients, carrier_code: str) -> TrackingQuery | None:
    if carrier_code == sf.CARRIER_CODE and clients.sf is not None:
        return clients.sf
    return clients.kuaidi100


def poll_shipments(
    database: Database, clients: TrackingClients, now: datetime | None = None
) -> int:
    """Periodic: query the carriers we poll, oldest-synced first, at most every half hour."""
    now = now or utcnow()
    if not clients.poll_carriers:
        return 0
    due = _waybills(
        database,
        Shipment.carrier_code.in_(sorted(clients.poll_carriers)),
        Shipment.status.not_in([str(s) for s in TERMINAL_TRACKING_STATUSES]),
        (Shipment.last_synced_at.is_(None)) | (Shipment.last_synced_at < now - POLL_SPACING),
        limit=POLL_BATCH,
    )
    polled = 0
    for waybill in due:
        client = _query_client(clients, waybill.carrier_code)
        if client is None:
            continue
        try:
            parsed = client.query(
                waybill.carrier_code, waybill.tracking_no, phone=_phone_for(waybill)
            )
        except CircuitOpen:
            break  # the carrier is down: the rest wait for the next round
        except CarrierRejected as error:
            log.warning("query refused for shipment %s: %s", waybill.id, error.code)
            continue
        _record(database, parsed)
        polled += 1
    return polled


class PushSignatureInvalid(Exception):
    """A push whose signature or secret does not verify: refused, nothing stored."""


def accept_kuaidi100_push(database: Database, param: str, sign: str, salt: str) -> None:
    """Verify and keep a Kuaidi100 push; the worker merges it. Raises before storing anything."""
    if not salt or not kuaidi100.verify_push_signature(param, sign, salt):
        raise PushSignatureInvalid
    kuaidi100.parse_push(param)  # MalformedPayload now, not in the worker
    accept_push(database, kuaidi100.SOURCE, param)


def accept_sf_push(
    database: Database,
    clients: TrackingClients,
    *,
    token: str,
    expected_token: str,
    body: str,
    signed_form: Mapping[str, str] | None = None,
    check_word: str = "",
) -> None:
    """SF pushes carry a secret path token; the signed form variant is verified as well."""
    if not sf.verify_push_token(token, expected_token):
        raise PushSignatureInvalid
    if signed_form is not None:
        data = signed_form.get("msgData", "")
        if not sf.verify_push(
            data, signed_form.get("timestamp", ""), signed_form.get("msgDigest", ""), check_word
        ):
            raise PushSignatureInvalid
        body = data
    sf.parse_route_push(body, clients.sf_op_codes)
    accept_push(database, sf.SOURCE, body)
