from __future__ import annotations

from functools import wraps

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.errors import Unauthorized, conflict
from app.extensions import db
from app.identity.auth import AFFILIATE, MERCHANT, affiliate_of_key, bearer_token, grants, merchant_of_key
from app.identity.keys import hash_key
from app.schemas import PageArgsSchema
from app.unit_of_work import IDEMPOTENCY_HEADER_DOC as HEADER_DOC
from app.unit_of_work import answered, header_key
from app.webhooks import services
from app.webhooks.schemas import (
    AttemptPageSchema,
    EndpointCreateSchema,
    EndpointPageSchema,
    EndpointSchema,
    EndpointUpdateSchema,
    EndpointWithSecretSchema,
    EventCatalogSchema,
)

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/v1/webhook-endpoints",
    description="Merchant or affiliate: endpoints that receive signed events, and their delivery log.",
)

_KEY_CONFLICT = conflict("This Idempotency-Key was used for a different request.")
_KEY_HEADER = HEADER_DOC


@grants(MERCHANT, AFFILIATE)
def owner_required(view):
    """A live merchant key or a live affiliate key passes; the owner is in ``g.webhook_owner``.

    Each owner sees only its own endpoints: the kind is part of every lookup.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        key_hash = hash_key(bearer_token())
        merchant = merchant_of_key(key_hash)
        if merchant is not None:
            g.webhook_owner = services.Owner("merchant", merchant.id)
            return view(*args, **kwargs)
        affiliate = affiliate_of_key(key_hash)
        if affiliate is not None:
            g.webhook_owner = services.Owner("affiliate", affiliate.id)
            return view(*args, **kwargs)
        raise Unauthorized("Unknown or revoked merchant or affiliate key.")

    return wrapper


def _owner() -> services.Owner:
    return g.webhook_owner


def _allow_insecure() -> bool:
    return bool(current_app.config["WEBHOOK_ALLOW_INSECURE_URLS"])


@blp.route("")
class Endpoints(MethodView):
    decorators = [owner_required]

    @blp.arguments(EndpointCreateSchema)
    @blp.response(201, EndpointWithSecretSchema, description="Endpoint registered; its secret is shown only here.")
    @blp.alt_response(
        200, schema=EndpointWithSecretSchema, description="Replay of a create with the same Idempotency-Key."
    )
    @blp.alt_response(409, **_KEY_CONFLICT)
    @blp.doc(**_KEY_HEADER)
    def post(self, data):
        """Register a webhook endpoint

        Events are POSTed as JSON with `Loyalty-Signature: t=<unix seconds>,v1=<hex
        HMAC-SHA256 of "<t>.<body>" with the secret>`. Keep the `secret` of this
        answer: it is not shown again. An optional `Idempotency-Key` header makes a
        retry return this same answer.
        """
        return answered(
            services.create_endpoint(
                unit_of_work.current(), _owner(), data, allow_insecure=_allow_insecure(), key=header_key()
            )
        )

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, EndpointPageSchema)
    def get(self, args):
        """List your webhook endpoints, oldest first"""
        return services.list_endpoints(db.session, _owner(), **args)


@blp.route("/event-types")
class EventCatalog(MethodView):
    decorators = [owner_required]

    @blp.response(200, EventCatalogSchema)
    def get(self):
        """List the event types your key may subscribe to

        Merchants may subscribe to every event; affiliates to `commission.*`
        events only. Subscribing to anything else is refused with 422.
        """
        return services.event_catalog(_owner())


@blp.route("/<id:endpoint_id>")
class EndpointById(MethodView):
    decorators = [owner_required]

    @blp.response(200, EndpointSchema)
    def get(self, endpoint_id):
        """Show one of your webhook endpoints"""
        return services.get_endpoint(db.session, _owner(), endpoint_id)

    @blp.arguments(EndpointUpdateSchema)
    @blp.response(200, EndpointSchema)
    @blp.alt_response(409, **_KEY_CONFLICT)
    @blp.doc(**_KEY_HEADER)
    def patch(self, data, endpoint_id):
        """Change an endpoint's URL or events, or disable it

        A disabled endpoint receives nothing; its pending deliveries wait until it
        is enabled again.
        """
        return answered(
            services.update_endpoint(
                unit_of_work.current(), _owner(), endpoint_id, data, allow_insecure=_allow_insecure(), key=header_key()
            ),
            created=200,
        )

    @blp.response(204)
    @blp.alt_response(409, **_KEY_CONFLICT)
    @blp.doc(**_KEY_HEADER)
    def delete(self, endpoint_id):
        """Delete an endpoint with its pending deliveries and attempt log"""
        services.delete_endpoint(unit_of_work.current(), _owner(), endpoint_id, key=header_key())


@blp.route("/<id:endpoint_id>/rotate-secret")
class EndpointSecretRotation(MethodView):
    decorators = [owner_required]

    @blp.response(201, EndpointWithSecretSchema, description="The new secret, shown only here.")
    @blp.alt_response(200, schema=EndpointWithSecretSchema, description="Replay with the same Idempotency-Key.")
    @blp.alt_response(409, **_KEY_CONFLICT)
    @blp.doc(**_KEY_HEADER)
    def post(self, endpoint_id):
        """Rotate an endpoint's signing secret

        For 24 hours after a rotation every delivery carries two signatures (two
        `v1=` values): one with the new secret, one with the previous, so your
        receiver keeps verifying while you deploy the new secret.
        """
        return answered(services.rotate_secret(unit_of_work.current(), _owner(), endpoint_id, key=header_key()))


@blp.route("/<id:endpoint_id>/attempts")
class EndpointAttempts(MethodView):
    decorators = [owner_required]

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, AttemptPageSchema)
    def get(self, args, endpoint_id):
        """List the delivery attempts to one of your endpoints, oldest first

        Every attempt is logged: HTTP status, duration, error and when the next
        attempt is due.
        """
        return services.list_attempts(db.session, _owner(), endpoint_id, **args)
