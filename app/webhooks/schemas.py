from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import WEBHOOK_URL_LENGTH_MAX
from app.schemas import StrictSchema, page_of

# The published catalog: what an endpoint may subscribe to.
EVENT_TYPES = (
    "order.points_awarded",
    "order.refunded",
    "commission.created",
    "commission.approved",
    "commission.rejected",
    "commission.paid",
    "redemption.placed",
    "redemption.fulfilled",
    "redemption.cancelled",
    "points.expiring",
    "statement.issued",
    "statement.payment_failed",
    "payout.paid",
)
# What each kind of owner may subscribe to: affiliates only hear about their commissions.
EVENT_TYPES_BY_OWNER_KIND = {
    "merchant": EVENT_TYPES,
    "affiliate": tuple(event for event in EVENT_TYPES if event.startswith(("commission.", "payout."))),
}


def _events(**kwargs) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=validate.OneOf(EVENT_TYPES)),
        validate=validate.Length(1, len(EVENT_TYPES)),
        metadata={
            "description": "Event types to receive. Merchants: "
            + ", ".join(EVENT_TYPES_BY_OWNER_KIND["merchant"])
            + ". Affiliates: "
            + ", ".join(EVENT_TYPES_BY_OWNER_KIND["affiliate"])
            + " (anything else is refused with 422)."
        },
        **kwargs,
    )


def _url(**kwargs) -> ma.fields.String:
    # Scheme and host rules depend on configuration; the service checks them.
    return ma.fields.String(
        validate=validate.Length(1, WEBHOOK_URL_LENGTH_MAX),
        metadata={
            "description": "Where events are POSTed: https (http only outside production), no credentials. "
            "In production the host must resolve to public addresses only (checked again before each delivery)."
        },
        **kwargs,
    )


class EndpointCreateSchema(StrictSchema):
    url = _url(required=True)
    events = _events(required=True)
    enabled = ma.fields.Boolean(load_default=True)


class EndpointUpdateSchema(StrictSchema):
    url = _url()
    events = _events()
    enabled = ma.fields.Boolean()

    @ma.validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("Give at least one of url, events, enabled.")


class EndpointSchema(ma.Schema):
    id = ma.fields.String()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    enabled = ma.fields.Boolean()
    previous_secret_expires_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "Until then deliveries are signed with the previous secret too (after a rotation)."},
    )
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class EndpointWithSecretSchema(EndpointSchema):
    secret = ma.fields.String(metadata={"description": "The signing secret (`whsec_...`): shown only in this answer."})


class AttemptSchema(ma.Schema):
    id = ma.fields.String()
    event_id = ma.fields.String()
    event_type = ma.fields.String()
    number = ma.fields.Integer(metadata={"description": "1 for the first attempt of this event to this endpoint."})
    outcome = ma.fields.String(
        metadata={"description": "in_flight, delivered, retry (another attempt follows), failed (no more), abandoned."}
    )
    started_at = ma.fields.DateTime()
    status_code = ma.fields.Integer(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    error = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Why the attempt failed: `HTTP <status>`, `refused: not a public address`, "
            "`refused: URL not accepted`, `connection failed` or `timed out` (connected, no answer in time)."
        },
    )
    next_attempt_at = ma.fields.DateTime(allow_none=True)


class EventCatalogSchema(ma.Schema):
    owner_kind = ma.fields.String(metadata={"description": "merchant or affiliate: whose key called."})
    events = ma.fields.List(
        ma.fields.String(), metadata={"description": "The event types this caller may subscribe to."}
    )


EndpointPageSchema = page_of(EndpointSchema, "WebhookEndpointPage")
AttemptPageSchema = page_of(AttemptSchema, "WebhookAttemptPage")
