"""Webhook endpoints of an owner and the transactional outbox (``emit``).

An owner is ``(owner_kind, owner_id)``: a merchant or an affiliate. Each kind
has its own event catalog (affiliates hear only about their commissions).
Delivery lives in ``app.webhooks.delivery``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

import ledger
from app.constants import WEBHOOK_ENDPOINTS_PER_OWNER_MAX, WEBHOOK_SECRET_GRACE_S
from app.locks import serialize
from app.pagination import Page, paginate
from app.rows import one_or_raise
from app.unit_of_work import UnitOfWork
from app.webhooks import addresses
from app.webhooks.errors import EndpointLimit, EndpointNotFound, EventsNotInCatalog, InsecureUrl
from app.webhooks.models import OWNER_KINDS, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks.schemas import EVENT_TYPES_BY_OWNER_KIND, AttemptSchema, EndpointSchema, EndpointWithSecretSchema

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

_ENDPOINT_SCHEMA = EndpointSchema()
_WITH_SECRET_SCHEMA = EndpointWithSecretSchema()
_ATTEMPT_SCHEMA = AttemptSchema()
_ENDPOINTS = WebhookEndpoint.__table__
_EVENTS = WebhookEvent.__table__
_DELIVERIES = WebhookDelivery.__table__
# The order path runs this for every order: one indexed read, nothing written when nobody listens.
_SUBSCRIBERS = select(_ENDPOINTS.c.id, _ENDPOINTS.c.events).where(
    _ENDPOINTS.c.owner_kind == bindparam("kind"),
    _ENDPOINTS.c.owner_id == bindparam("owner"),
    _ENDPOINTS.c.enabled.is_(True),
)
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_INSERT_DELIVERY = insert(_DELIVERIES)


@dataclass(frozen=True)
class Owner:
    kind: str
    id: int

    def __post_init__(self) -> None:
        if self.kind not in OWNER_KINDS:
            raise ValueError(f"unknown webhook owner kind {self.kind!r}")

    @property
    def scope(self) -> str:
        return f"webhook-endpoints:{self.kind}:{self.id}"


def emit(session: Session, owner_kind: str, owner_id: int, event_type: str, data: dict, *, now: datetime) -> str | None:
    """Put an event in the outbox, in the caller's transaction (never commits).

    One delivery row is added per enabled endpoint of the owner subscribed to
    ``event_type``; with none, nothing is written and None is returned. A
    rollback of the caller's transaction takes the event with it: an event is
    sent if and only if the change it describes committed.
    """
    if event_type not in EVENT_TYPES_BY_OWNER_KIND.get(owner_kind, ()):
        raise ValueError(f"{event_type!r} is not in the event catalog of {owner_kind!r} owners")
    rows = session.execute(_SUBSCRIBERS, {"kind": owner_kind, "owner": owner_id}).all()
    targets = [row.id for row in rows if event_type in json.loads(row.events)]
    if not targets:
        return None
    public_id = "evt_" + secrets.token_hex(12)
    body = json.dumps(
        {
            "id": public_id,
            "type": event_type,
            "created_at": now.isoformat(),
            "owner": {"kind": owner_kind, "id": str(owner_id)},
            "data": data,
        },
        separators=(",", ":"),
        default=str,
    )
    event_id = session.execute(
        _INSERT_EVENT,
        {
            "public_id": public_id,
            "owner_kind": owner_kind,
            "owner_id": owner_id,
            "event_type": event_type,
            "body": body,
            "created_at": now,
        },
    ).scalar_one()
    session.execute(
        _INSERT_DELIVERY,
        [
            {
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "finished_at": None,
            }
            for endpoint_id in targets
        ],
    )
    return public_id


def event_catalog(owner: Owner) -> dict:
    """The event types this owner may subscribe to."""
    return {"owner_kind": owner.kind, "events": list(EVENT_TYPES_BY_OWNER_KIND[owner.kind])}


def check_events(owner: Owner, events: list[str]) -> None:
    """Refuse event types outside the owner's catalog (affiliates: commission.* only)."""
    allowed = EVENT_TYPES_BY_OWNER_KIND[owner.kind]
    refused = sorted({event for event in events if event not in allowed})
    if refused:
        raise EventsNotInCatalog(owner.kind, refused)


def check_url(url: str, *, allow_insecure: bool) -> None:
    """http(s) only, no credentials; in production https to a host whose every address is public.

    Production resolves the host now, and each delivery resolves it again (see
    ``app.webhooks.addresses``): a name that later points inside is refused then.
    """
    try:
        target = addresses.target_of(url, allow_insecure=allow_insecure)
        if not allow_insecure:
            addresses.checked_addresses(target, allow_private=False)
    except addresses.Refused as refused:
        raise InsecureUrl([str(refused)]) from None


def create_endpoint(uow: UnitOfWork, owner: Owner, data: dict, *, allow_insecure: bool, key: str | None) -> dict:
    """Register an endpoint, and commit; the answer carries its signing secret, shown
    only there. With ``key``, a retry of the same request gets the same answer."""
    stored = uow.once(owner.scope, key, {"op": "create", **data})
    if stored is not None:
        return stored
    check_url(data["url"], allow_insecure=allow_insecure)
    check_events(owner, data["events"])
    session, now = uow.session, uow.now
    # Concurrent creates by one owner count one after the other.
    serialize(session, f"webhook-endpoints:{owner.kind}:{owner.id}")
    count = session.execute(
        select(func.count())
        .select_from(_ENDPOINTS)
        .where(_ENDPOINTS.c.owner_kind == owner.kind, _ENDPOINTS.c.owner_id == owner.id)
    ).scalar_one()
    if count >= WEBHOOK_ENDPOINTS_PER_OWNER_MAX:
        raise EndpointLimit(WEBHOOK_ENDPOINTS_PER_OWNER_MAX)
    endpoint = WebhookEndpoint(
        owner_kind=owner.kind,
        owner_id=owner.id,
        url=data["url"],
        events=json.dumps(_unique(data["events"])),
        enabled=data["enabled"],
        secret=new_secret(),
        previous_secret=None,
        previous_secret_expires_at=None,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return uow.commit(_WITH_SECRET_SCHEMA.dump(_view(endpoint, with_secret=True)))


def list_endpoints(session: Session, owner: Owner, *, limit: int, cursor: str | None) -> Page:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.owner_kind == owner.kind, WebhookEndpoint.owner_id == owner.id
    )
    page = paginate(session, query, WebhookEndpoint.id, limit=limit, cursor=cursor)
    return Page([_view(endpoint) for endpoint in page.data], page.next_cursor)


def get_endpoint(session: Session, owner: Owner, endpoint_id: int) -> dict:
    return _view(_endpoint_of(session, owner, endpoint_id))


def update_endpoint(
    uow: UnitOfWork, owner: Owner, endpoint_id: int, data: dict, *, allow_insecure: bool, key: str | None
) -> dict:
    """Change an endpoint's URL, events or state, and commit; once per ``key``."""
    stored = uow.once(owner.scope, key, {"op": "update", "id": endpoint_id, **data})
    if stored is not None:
        return stored
    if "url" in data:
        check_url(data["url"], allow_insecure=allow_insecure)
    if "events" in data:
        check_events(owner, data["events"])
    endpoint = _endpoint_of(uow.session, owner, endpoint_id, for_update=True)
    if "url" in data:
        endpoint.url = data["url"]
    if "events" in data:
        endpoint.events = json.dumps(_unique(data["events"]))
    if "enabled" in data:
        endpoint.enabled = data["enabled"]
    endpoint.updated_at = uow.now
    uow.session.flush()
    return uow.commit(_ENDPOINT_SCHEMA.dump(_view(endpoint)))


def rotate_secret(uow: UnitOfWork, owner: Owner, endpoint_id: int, *, key: str | None) -> dict:
    """A new secret, shown once; the old one keeps signing for WEBHOOK_SECRET_GRACE_S.

    During the grace period every delivery carries two ``v1=`` signatures, so
    receivers can switch to the new secret whenever they deploy it. Commits; once per ``key``.
    """
    stored = uow.once(owner.scope, key, {"op": "rotate", "id": endpoint_id})
    if stored is not None:
        return stored
    endpoint = _endpoint_of(uow.session, owner, endpoint_id, for_update=True)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = uow.now + timedelta(seconds=WEBHOOK_SECRET_GRACE_S)
    endpoint.secret = new_secret()
    endpoint.updated_at = uow.now
    uow.session.flush()
    return uow.commit(_WITH_SECRET_SCHEMA.dump(_view(endpoint, with_secret=True)))


def delete_endpoint(uow: UnitOfWork, owner: Owner, endpoint_id: int, *, key: str | None) -> dict:
    """Remove an endpoint with its pending deliveries and attempt log, and commit; once per ``key``."""
    stored = uow.once(owner.scope, key, {"op": "delete", "id": endpoint_id})
    if stored is not None:
        return stored
    session = uow.session
    endpoint = _endpoint_of(session, owner, endpoint_id, for_update=True)
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint.id))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()
    return uow.commit({})


def list_attempts(session: Session, owner: Owner, endpoint_id: int, *, limit: int, cursor: str | None) -> Page:
    """Every logged delivery attempt to one of the owner's endpoints, oldest first."""
    endpoint = _endpoint_of(session, owner, endpoint_id)
    query = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint.id)
    page = paginate(session, query, WebhookAttempt.id, limit=limit, cursor=cursor)
    return Page([_attempt_view(attempt) for attempt in page.data], page.next_cursor)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def _unique(events: list[str]) -> list[str]:
    return sorted(set(events))


def _endpoint_of(session: Session, owner: Owner, endpoint_id: int, *, for_update: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.owner_kind == owner.kind,
        WebhookEndpoint.owner_id == owner.id,
    )
    return one_or_raise(session, query, EndpointNotFound(endpoint_id), for_update=for_update)


def _view(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict:
    view = {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "events": json.loads(endpoint.events),
        "enabled": endpoint.enabled,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if with_secret:
        view["secret"] = endpoint.secret
    return view


def _attempt_view(attempt: WebhookAttempt) -> dict:
    return {
        "id": str(attempt.id),
        "event_id": attempt.event_public_id,
        "event_type": attempt.event_type,
        "number": attempt.number,
        "outcome": attempt.outcome,
        "started_at": attempt.started_at,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "next_attempt_at": attempt.next_attempt_at,
    }


def emit_many(session: Session, owner_kind: str, owner_id: int, event_type: str, datas: list[dict], *, now: datetime):
    """``emit`` for many events of one owner and type (a batch of orders): one read of
    the subscribers, one insert of the events and one of their deliveries. Returns
    the events' public ids (empty when nobody listens)."""
    if event_type not in EVENT_TYPES_BY_OWNER_KIND.get(owner_kind, ()):
        raise ValueError(f"{event_type!r} is not in the event catalog of {owner_kind!r} owners")
    rows = session.execute(_SUBSCRIBERS, {"kind": owner_kind, "owner": owner_id}).all()
    targets = [row.id for row in rows if event_type in json.loads(row.events)]
    if not targets or not datas:
        return []
    public_ids = ["evt_" + secrets.token_hex(12) for _ in datas]
    owner = {"kind": owner_kind, "id": str(owner_id)}
    events = [
        {
            "public_id": public_id,
            "owner_kind": owner_kind,
            "owner_id": owner_id,
            "event_type": event_type,
            "body": json.dumps(
                {"id": public_id, "type": event_type, "created_at": now.isoformat(), "owner": owner, "data": data},
                separators=(",", ":"),
                default=str,
            ),
            "created_at": now,
        }
        for public_id, data in zip(public_ids, datas, strict=True)
    ]
    event_ids = ledger.insert_rows(session, _EVENTS, events, returning="id")
    ledger.insert_rows(
        session,
        _DELIVERIES,
        [
            {
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "finished_at": None,
            }
            for event_id in event_ids
            for endpoint_id in targets
        ],
    )
    return public_ids
