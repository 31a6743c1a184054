"""Customer address changes: a one-time code, then the change, a request, or the lock.

The order row is locked (FOR UPDATE; BEGIN IMMEDIATE on SQLite) before the rules are
read, so a change and the warehouse pack scan cannot interleave: whichever commits
second sees the other. What happens next (telling the old phone, the carrier, the
warehouse) is queued as jobs in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import audit, jobs
from backend.actors import Actor, ActorKind
from backend.clock import utcnow
from backend.db import Database
from backend.orders.address_fields import (
    validate_mainland_mobile,
    validate_recipient_name,
    validate_street,
)
from backend.orders.address_policy import (
    AddressDecision,
    AddressFacts,
    AddressRules,
    ClosedBecause,
    EditMode,
    decide,
)
from backend.orders.divisions import is_valid_division
from backend.orders.lifecycle import OrderStatus
from backend.orders.models import AddressChange, AddressVersion, ChangeKind, ChangeStatus, Order
from backend.orders.service import NewAddress, OrderNotFound, add_address_version
from backend.staff.permissions import Permission, check_permission

CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
ADDRESS_CHANGED = "address.changed"  # job: tell the old phone, the carrier, the warehouse
SEND_CODE = "address.send_code"  # job: text the one-time code
REQUEST_DECIDED = "address.request_decided"  # job: tell the customer staff's answer


class AddressLocked(Exception):
    """The warehouse packed the parcel first; the address is frozen since `locked_at`."""

    def __init__(self, locked_at: datetime | None) -> None:
        super().__init__(f"address locked at {locked_at}")
        self.locked_at = locked_at


class AddressChangeNotAllowed(Exception):
    def __init__(self, because: ClosedBecause | None) -> None:
        super().__init__(str(because))
        self.because = because


class RedirectReasonRequired(ValueError):
    """Staff say why they redirect a parcel (it goes into the audit)."""


class UnknownDivision(ValueError):
    code = "unknown_division"
    field = "district"


class AddressChangeNotFound(Exception):
    """No such change on this order, or it is no longer waiting for what was asked."""


class VerificationCodeWrong(Exception):
    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"{attempts_left} attempts left")
        self.attempts_left = attempts_left


class VerificationCodeExpired(Exception):
    """The code is older than its lifetime, or was tried too often: ask for a new one."""


class TooManyCodes(Exception):
    """Codes are sent at most `max_codes_per_hour` times an hour per order."""


def validate_address(
    recipient_name: str, phone: str, province: str, city: str, district: str, street: str
) -> NewAddress:
    """Every field checked; raises the first AddressFieldInvalid / UnknownDivision."""
    name = validate_recipient_name(recipient_name)
    mobile = validate_mainland_mobile(phone)
    if not is_valid_division(province, city, district):
        raise UnknownDivision(f"{province}/{city}/{district}")
    return NewAddress(name, mobile, province, city, district, validate_street(street))


def _requested_address(change: AddressChange) -> NewAddress:
    return NewAddress(
        change.recipient_name,
        change.phone,
        change.province,
        change.city,
        change.district,
        change.street,
    )


def _hash_code(change_id: int, code: str) -> str:
    # Salted with the change id: equal codes on two changes never share a hash.
    return hashlib.sha256(f"{change_id}:{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _facts(session: Session, order: Order) -> AddressFacts:
    pending = session.scalar(
        select(func.count())
        .select_from(AddressChange)
        .where(
            AddressChange.order_id == order.id,
            AddressChange.status == ChangeStatus.PENDING_APPROVAL,
        )
    )
    return AddressFacts(
        OrderStatus(order.status),
        order.paid_at,
        order.address_locked_at,
        order.risk_flag,
        order.customer_address_edits,
        bool(pending),
        packed_at=order.packed_at,
    )


def _locked_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    return order


@dataclass(frozen=True)
class StartedChange:
    change_id: int
    sent_to: str  # the phone on the order, which receives the code


def start_address_change(
    database: Database,
    order_id: int,
    address: NewAddress,
    actor: Actor,
    rules: AddressRules,
    *,
    kind: ChangeKind = ChangeKind.EDIT,
    now: datetime | None = None,
    make_code: Callable[[], str] = new_code,
) -> StartedChange:
    """Check the rules and text a one-time code to the phone on the order."""
    now = now or utcnow()
    with database.write() as session:
        order = _locked_order(session, order_id)
        _check_allowed(decide(_facts(session, order), now, rules), kind)
        recent = session.scalar(
            select(func.count())
            .select_from(AddressChange)
            .where(
                AddressChange.order_id == order_id,
                AddressChange.created_at > now - timedelta(hours=1),
                AddressChange.code_hash.is_not(None),
            )
        )
        if (recent or 0) >= rules.max_codes_per_hour:
            raise TooManyCodes
        phone = (
            session.scalar(
                select(AddressVersion.phone).where(AddressVersion.id == order.current_address_id)
            )
            or ""
        )
        change = AddressChange(
            order_id=order_id,
            kind=kind,
            status=ChangeStatus.AWAITING_CODE,
            requested_by=_who(actor),
            ip=actor.ip,
            created_at=now,
            code_expires_at=now + CODE_LIFETIME,
            **address.as_dict_without_postal(),
        )
        session.add(change)
        session.flush()
        code = make_code()
        change.code_hash = _hash_code(change.id, code)
        # The code rides on the job row only until it is sent; it expires in minutes.
        jobs.enqueue(
            session,
            SEND_CODE,
            {"order_id": order_id, "phone": phone, "code": code},
            key=f"code:{change.id}",
        )
        audit.record(
            session,
            actor,
            "address.code_sent",
            subject="address_change",
            subject_id=change.id,
            order_id=order_id,
            at=now,
        )
        return StartedChange(change.id, phone)


def _check_allowed(decision: AddressDecision, kind: ChangeKind) -> None:
    if kind == ChangeKind.INTERCEPT:
        if not decision.can_request_intercept:
            raise AddressChangeNotAllowed(decision.closed_because)
        return
    if decision.mode == EditMode.LOCKED:
        raise AddressLocked(decision.locked_at)
    if not decision.can_edit:
        raise AddressChangeNotAllowed(decision.closed_because)


def _who(actor: Actor) -> str:
    return f"{actor.kind}:{actor.identifier}"


def _check_code(change: AddressChange, code: str, now: datetime) -> None:
    if change.code_expires_at is None or change.code_expires_at <= now:
        raise VerificationCodeExpired
    if change.code_attempts >= MAX_CODE_ATTEMPTS:
        raise VerificationCodeExpired
    change.code_attempts += 1
    expected = change.code_hash or ""
    if not hmac.compare_digest(expected, _hash_code(change.id, code.strip())):
        raise VerificationCodeWrong(MAX_CODE_ATTEMPTS - change.code_attempts)


@dataclass(frozen=True)
class ChangeOutcome:
    status: ChangeStatus
    version: int | None = None
    locked_at: datetime | None = None  # LOST_TO_LOCK: since when, as the rules see it


def confirm_address_change(
    database: Database,
    order_id: int,
    change_id: int,
    code: str,
    actor: Actor,
    rules: AddressRules,
    *,
    now: datetime | None = None,
) -> ChangeOutcome:
    """The code is right: apply the change (in the window) or file it for staff (after)."""
    failure: Exception | None = None
    with database.write() as session:
        order = _locked_order(session, order_id)
        # Read the clock only once the row is ours: times then follow the commit order.
        now = now or utcnow()
        change = session.get(AddressChange, change_id)
        if (
            change is None
            or change.order_id != order_id
            or change.status != ChangeStatus.AWAITING_CODE
        ):
            raise AddressChangeNotFound
        try:
            _check_code(change, code, now)
        except (VerificationCodeWrong, VerificationCodeExpired) as error:
            failure = error  # the attempt is counted: committed, then reported
        else:
            outcome = _settle(session, order, change, actor, rules, now)
    if failure is not None:
        raise failure
    if outcome.status == ChangeStatus.LOST_TO_LOCK:
        raise AddressLocked(outcome.locked_at)
    return outcome


def _settle(
    session: Session,
    order: Order,
    change: AddressChange,
    actor: Actor,
    rules: AddressRules,
    now: datetime,
) -> ChangeOutcome:
    decision = decide(_facts(session, order), now, rules)
    if change.kind == ChangeKind.INTERCEPT:
        _check_allowed(decision, change.kind)
        change.status = ChangeStatus.PENDING_APPROVAL  # staff call the carrier; no timer
        order.updated_at = now
        audit.record(
            session,
            actor,
            "address.intercept_requested",
            subject="address_change",
            subject_id=change.id,
            order_id=order.id,
            at=now,
            after=_requested_address(change).as_dict(),
        )
        return ChangeOutcome(change.status)
    if decision.mode == EditMode.LOCKED or decision.mode == EditMode.CLOSED:
        change.status = (
            ChangeStatus.LOST_TO_LOCK
            if decision.mode == EditMode.LOCKED
            else ChangeStatus.ABANDONED
        )
        audit.record(
            session,
            actor,
            "address.change_refused",
            subject="address_change",
            subject_id=change.id,
            order_id=order.id,
            at=now,
            after={"mode": str(decision.mode), "locked_at": str(order.address_locked_at)},
        )
        if decision.mode == EditMode.CLOSED:
            raise AddressChangeNotAllowed(decision.closed_because)
        return ChangeOutcome(change.status, locked_at=decision.locked_at)
    if decision.mode == EditMode.REQUEST:
        change.status = ChangeStatus.PENDING_APPROVAL
        change.auto_approve_at = now + rules.auto_approve_after
        order.updated_at = now  # the tracking page shows the pending request
        audit.record(
            session,
            actor,
            "address.change_requested",
            subject="address_change",
            subject_id=change.id,
            order_id=order.id,
            at=now,
            after=_requested_address(change).as_dict(),
        )
        return ChangeOutcome(change.status)
    version = apply_change(session, order, change, actor, now)
    return ChangeOutcome(ChangeStatus.APPLIED, version)


def apply_change(
    session: Session, order: Order, change: AddressChange, actor: Actor, now: datetime
) -> int:
    """A new address version, in the caller's transaction with the order row locked."""
    before = session.get(AddressVersion, order.current_address_id)
    version = add_address_version(session, order, _requested_address(change), actor, at=now)
    if change.kind == ChangeKind.EDIT:
        order.customer_address_edits += 1
    order.updated_at = now
    change.status, change.decided_at = ChangeStatus.APPLIED, now
    audit.record(
        session,
        actor,
        "address.changed",
        subject="order",
        subject_id=order.id,
        order_id=order.id,
        at=now,
        before=_address_dict(before),
        after=_requested_address(change).as_dict(),
    )
    jobs.enqueue(
        session,
        ADDRESS_CHANGED,
        {
            "order_id": order.id,
            "version_id": version.id,
            "kind": str(change.kind),
            "old_phone": before.phone if before else None,
        },
        key=f"address-changed:{version.id}",
    )
    return version.version


def _address_dict(version: AddressVersion | None) -> dict[str, str | None] | None:
    if version is None:
        return None
    return {
        "recipient_name": version.recipient_name,
        "phone": version.phone,
        "province": version.province,
        "city": version.city,
        "district": version.district,
        "street": version.street,
    }


def decide_request(
    database: Database,
    change_id: int,
    approve: bool,
    actor: Actor,
    rules: AddressRules,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> ChangeStatus:
    """Staff (or the auto-approval timer) answer a pending request."""
    check_permission(actor, Permission.REVIEW_ADDRESSES, also=(ActorKind.SYSTEM,))
    with database.write() as session:
        order_id = session.scalar(
            select(AddressChange.order_id).where(AddressChange.id == change_id)
        )
        if order_id is None:
            raise AddressChangeNotFound
        order = _locked_order(session, order_id)
        now = now or utcnow()
        change = session.get(AddressChange, change_id)
        assert change is not None
        if change.status != ChangeStatus.PENDING_APPROVAL:
            raise AddressChangeNotFound
        change.decided_at, change.decided_by = now, _who(actor)
        locked = order.address_locked_at is not None and change.kind == ChangeKind.EDIT
        if approve and locked:
            change.status, change.reason = ChangeStatus.LOST_TO_LOCK, "已打包，地址已锁定"
        elif approve:
            apply_change(session, order, change, actor, now)
        else:
            change.status, change.reason = ChangeStatus.REJECTED, reason.strip()[:200] or None
        order.updated_at = now
        audit.record(
            session,
            actor,
            f"address.request_{change.status}",
            subject="address_change",
            subject_id=change.id,
            order_id=order.id,
            at=now,
            after={"reason": change.reason},
        )
        jobs.enqueue(session, REQUEST_DECIDED, {"change_id": change.id}, key=f"decided:{change.id}")
        return ChangeStatus(change.status)


def may_redirect(database: Database, order_id: int, rules: AddressRules) -> bool:
    """Whether staff may start a 拦截改派 on this order now (the order page's form)."""
    with database.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            return False
        return decide(_facts(session, order), utcnow(), rules).can_request_intercept


def redirect_by_staff(
    database: Database,
    order_id: int,
    address: NewAddress,
    reason: str,
    actor: Actor,
    rules: AddressRules,
    *,
    now: datetime | None = None,
) -> int:
    """拦截改派 started by staff (the customer phoned or wrote): applied at once.

    The same rules as the customer's redirect request (packed or on the road, not risky,
    no request already waiting), but no code and no approval: the member is the approver,
    and the reason is in the audit. The new address version queues the carrier's
    interceptOrder MODIFY_ADDR (logistics/address_propagation.py), as an approved
    customer request does; the carrier's refusal, if any, shows on the order page.
    """
    check_permission(actor, Permission.REVIEW_ADDRESSES)
    reason = " ".join(reason.split())[:200]
    if len(reason) < 2:
        raise RedirectReasonRequired(reason)
    with database.write() as session:
        order = _locked_order(session, order_id)
        now = now or utcnow()
        _check_allowed(decide(_facts(session, order), now, rules), ChangeKind.INTERCEPT)
        change = AddressChange(
            order_id=order_id,
            kind=ChangeKind.INTERCEPT,
            status=ChangeStatus.PENDING_APPROVAL,
            requested_by=_who(actor),
            ip=actor.ip,
            created_at=now,
            decided_by=_who(actor),
            reason=reason,
            **address.as_dict_without_postal(),
        )
        session.add(change)
        session.flush()
        version = apply_change(session, order, change, actor, now)
        audit.record(
            session,
            actor,
            "address.redirected_by_staff",
            subject="address_change",
            subject_id=change.id,
            order_id=order_id,
            at=now,
            after={"reason": reason, "version": version},
        )
        return version


def auto_approve_due(database: Database, rules: AddressRules, now: datetime | None = None) -> int:
    """Periodic: requests staff did not answer in time are approved."""
    now = now or utcnow()
    with database.read() as session:
        due = session.scalars(
            select(AddressChange.id).where(
                AddressChange.status == ChangeStatus.PENDING_APPROVAL,
                AddressChange.kind == ChangeKind.EDIT,
                AddressChange.auto_approve_at <= now,
            )
        ).all()
    system = Actor(ActorKind.SYSTEM, "auto-approval", channel="worker")
    for change_id in due:
        try:
            decide_request(database, change_id, True, system, rules, now=now)
        except AddressChangeNotFound:
            continue  # staff answered it meanwhile
    return len(due)


@dataclass(frozen=True)
class PendingRequest:
    change_id: int
    order_id: int
    public_no: str
    kind: ChangeKind
    created_at: datetime
    auto_approve_at: datetime | None
    current: str
    proposed: str
    requested_by: str


def list_pending_requests(database: Database, limit: int = 100) -> list[PendingRequest]:
    """The staff queue: changes after the window, and redirect requests, oldest first."""
    with database.read() as session:
        rows = session.execute(
            select(AddressChange, Order.public_no, AddressVersion)
            .join(Order, Order.id == AddressChange.order_id)
            .outerjoin(AddressVersion, AddressVersion.id == Order.current_address_id)
            .where(AddressChange.status == ChangeStatus.PENDING_APPROVAL)
            .order_by(AddressChange.created_at)
            .limit(limit)
        ).all()
    return [
        PendingRequest(
            change.id,
            change.order_id,
            public_no,
            ChangeKind(change.kind),
            change.created_at,
            change.auto_approve_at,
            _one_line(current),
            _one_line(change),
            change.requested_by,
        )
        for change, public_no, current in rows
    ]


def _one_line(address: AddressVersion | AddressChange | None) -> str:
    if address is None:
        return ""
    return (
        f"{address.recipient_name} {address.phone} "
        f"{address.province}{address.city}{address.district} {address.street}"
    )
