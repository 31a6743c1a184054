"""The job handlers the portal runs, and the worker that runs them (embedded or standalone)."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import timedelta
from typing import Any

from backend.db import Database
from backend.exchanges import return_leg
from backend.exchanges import service as exchange_service
from backend.fulfilment import channel_parcels, confirmations, labels
from backend.jobs import pruning
from backend.jobs.leases import SlotInUse
from backend.jobs.queue import Batched, Handler, Periodic
from backend.jobs.worker import Worker
from backend.logistics import address_propagation, tracking_jobs
from backend.logistics.carriers import sandbox
from backend.logistics.service import OUTBOUND_PARCEL_TURNED, RETURN_PARCEL_MOVED, SUBSCRIBE
from backend.notifications import outbox
from backend.orders import (
    address_changes,
    channel_webhooks,
    completion,
    inventory,
    reconciliation,
)
from backend.orders.access import prune_lookup_attempts
from backend.orders.intake import ORDER_CLOSED
from backend.refunds import (
    in_transit,
    in_transit_carrier,
    in_transit_staff,
    payouts,
    return_parcels,
)
from backend.refunds import service as refund_service
from backend.robots import alerting
from portal.integrations import Integrations
from portal.rules_in_force import RulesInForce
from portal.settings import Settings

log = logging.getLogger(__name__)


def build_handlers(settings: Settings, integrations: Integrations) -> dict[str, Handler | Batched]:
    tracking, notifications = integrations.tracking, integrations.notifications
    # Read at each job, not once at start: a rule saved in the admin reaches this process
    # within rules_refresh_seconds (portal/rules_in_force.py).
    in_force = RulesInForce(settings.rules, settings.rules_refresh_seconds)

    def advance_sandbox(db: Database, _payload: dict[str, Any]) -> None:
        sandbox.advance_shipments(db, speed=settings.sandbox_speed)

    return {
        "sandbox.advance": advance_sandbox,
        "access.prune_lookup_attempts": lambda db, _p: prune_lookup_attempts(db),
        SUBSCRIBE: lambda db, p: tracking_jobs.subscribe_shipment(db, tracking, p),
        tracking_jobs.PUSH: lambda db, p: tracking_jobs.process_push(db, tracking, p),
        tracking_jobs.POLL: lambda db, _p: tracking_jobs.poll_shipments(db, tracking),
        outbox.SEND: lambda db, p: outbox.send_notification(
            db, outbox.with_rules(notifications, in_force.current(db).notices), p
        ),
        address_changes.SEND_CODE: lambda db, p: outbox.send_verification_code(
            outbox.with_rules(notifications, in_force.current(db).notices), p
        ),
        address_changes.ADDRESS_CHANGED: address_propagation.handle_address_changed,
        address_changes.REQUEST_DECIDED: address_propagation.handle_request_decided,
        address_propagation.CARRIER_ADDRESS_CHANGE: lambda db, p: (
            address_propagation.request_carrier_address_change(db, tracking, p)
        ),
        AUTO_APPROVE: lambda db, _p: address_changes.auto_approve_due(
            db, in_force.current(db).addresses
        ),
        payouts.EXECUTE: lambda db, p: payouts.execute_refund(db, integrations.refunds, p),
        payouts.RECONCILE: lambda db, _p: payouts.reconcile(db, integrations.refunds),
        payouts.SETTLED: _refund_settled,
        RELEASE_UNPAID: lambda db, _p: inventory.release_unpaid(db),
        # Several deliveries to one transaction: the claim, the ingest and the finish of a
        # batch cost about what one order's did (bench/channel_intake.py).
        channel_webhooks.INGEST: Batched(
            lambda db, payloads: channel_webhooks.ingest_deliveries(
                db, payloads, in_force.current(db).intake
            )
        ),
        channel_parcels.CHANNEL_PARCELS: channel_parcels.record_channel_parcels,
        RECONCILE_EXPORTS: lambda db, _p: reconciliation.reconcile_dropped_exports(
            db, settings.export_dir
        ),
        RETURN_PARCEL_MOVED: lambda db, p: _return_parcel_moved(db, p, settings.fast_refund),
        EXPIRE_EXCHANGES: lambda db, _p: exchange_service.expire_exchanges(db),
        OUTBOUND_PARCEL_TURNED: lambda db, p: in_transit_carrier.on_parcel_turned(
            db, p, in_force.current(db).refunds
        ),
        in_transit.ASK_CARRIER: lambda db, p: in_transit_carrier.ask_carrier(db, tracking, p),
        confirmations.CONFIRM_SHIPMENT: lambda db, p: confirmations.confirm_shipment(
            db, integrations.ship_confirmers, settings.shops, p
        ),
        ORDER_CLOSED: lambda db, p: _void_closed(db, integrations, p),
        pruning.PRUNE: lambda db, _p: pruning.prune_finished(
            db, timedelta(days=settings.job_retention_days)
        ),
        completion.AUTO_COMPLETE: lambda db, _p: completion.complete_delivered_orders(
            db, settings.auto_complete_days
        ),
        alerting.SEND: lambda db, _p: alerting.send_alerts(
            db, integrations.robots, settings.base_url, rules=in_force.current(db).operations
        ),
        alerting.WEEKLY: lambda db, _p: alerting.send_weekly_report(
            db, integrations.robots, settings.base_url, rules=in_force.current(db).operations
        ),
    }


def _return_parcel_moved(database: Database, payload: dict[str, Any], fast_refund: bool) -> None:
    # A return parcel belongs to a return request or to an exchange; each handler ignores
    # parcels that are not its own, and both are safe to run twice.
    return_parcels.on_return_parcel(database, payload, fast_refund)
    return_leg.on_return_parcel(database, payload)


def _refund_settled(database: Database, payload: dict[str, Any]) -> None:
    """A refund settled: whichever request it paid (a return, a parcel in transit) follows."""
    refund_service.refund_settled(database, payload)
    in_transit_staff.refund_settled(database, payload)


def _void_closed(database: Database, integrations: Integrations, payload: dict[str, Any]) -> None:
    if integrations.waybills is not None:
        labels.void_closed_order_parcels(database, integrations.waybills, payload)


AUTO_APPROVE = "address.auto_approve"
RELEASE_UNPAID = "inventory.release_unpaid"
RECONCILE_EXPORTS = "reconciliation.daily"
EXPIRE_EXCHANGES = "exchanges.expire"

PERIODIC = [
    Periodic(AUTO_APPROVE, timedelta(minutes=1)),
    Periodic(payouts.RECONCILE, timedelta(minutes=1)),
    Periodic(RELEASE_UNPAID, timedelta(minutes=1)),
    Periodic(RECONCILE_EXPORTS, timedelta(hours=1)),
    Periodic("sandbox.advance", timedelta(seconds=5)),
    Periodic("access.prune_lookup_attempts", timedelta(hours=1)),
    Periodic(tracking_jobs.POLL, timedelta(minutes=1)),
    Periodic(pruning.PRUNE, timedelta(hours=1)),
    Periodic(completion.AUTO_COMPLETE, timedelta(minutes=10)),
    Periodic(EXPIRE_EXCHANGES, timedelta(minutes=10)),
    Periodic(alerting.SEND, timedelta(minutes=1)),
    Periodic(alerting.WEEKLY, timedelta(hours=1)),
]


def slot_name(name: str) -> str:
    """A worker's slot: this host and the name it runs under, the same at every restart."""
    return f"{socket.gethostname()}:{name}"[:120]  # as the workers table keeps it


def build_worker(
    database: Database, settings: Settings, integrations: Integrations, name: str
) -> Worker:
    return Worker(database, build_handlers(settings, integrations), PERIODIC, name=slot_name(name))


class EmbeddedWorker:
    """A worker thread inside the web process, for the single-machine SQLite setup."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=self._run, name="portal-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        # Pages are served without the database at start-up too; the worker joins them
        # once it can take its slot, instead of failing the web process or dying unseen.
        while True:
            try:
                self.worker.start()
                break
            except SlotInUse as error:  # another `portal serve` on this host runs it
                log.error("embedded worker not started: %s", error)
                return
            except Exception as error:
                log.warning("embedded worker cannot start yet: %s", type(error).__name__)
                if self.worker.pause(5):
                    return
        self.worker.run_forever()

    def stop(self) -> None:
        """The job in hand is finished first, for up to a lease; one cut off is taken back
        by this slot's next start."""
        self.worker.stop()
        self.thread.join(timeout=self.worker.lease.total_seconds())
        if self.thread.is_alive():
            log.warning("embedded worker still busy at shutdown; its job is taken back on start")
