from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.auth import operator_required
from app.extensions import db
from app.keys import with_key
from app.merchants import services
from app.merchants.schemas import (
    ApiKeyCreatedSchema,
    ApiKeyPageSchema,
    MerchantCreatedSchema,
    MerchantCreateSchema,
    MerchantPageSchema,
    MerchantSchema,
    MerchantUpdateSchema,
)
from app.schemas import PageArgsSchema
from app.unit_of_work import idempotent
from ledger import utcnow

blp = Blueprint("merchants", __name__, url_prefix="/v1/merchants", description="Operator: merchants and their keys.")


@blp.route("")
class Merchants(MethodView):
    decorators = [operator_required]

    @blp.arguments(MerchantCreateSchema)
    @blp.response(201, MerchantCreatedSchema)
    @idempotent(blp, MerchantCreatedSchema)
    def post(self, data):
        """Onboard a merchant

        Returns the merchant with its first API key, shown only in this answer.
        """
        merchant, key, clear = services.create_merchant(db.session, data, now=utcnow())
        return with_key(merchant, clear, api_key_id=str(key.id))

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, MerchantPageSchema)
    def get(self, args):
        """List merchants, oldest first"""
        return services.list_merchants(db.session, **args)


@blp.route("/<id:merchant_id>")
class MerchantById(MethodView):
    decorators = [operator_required]

    @blp.response(200, MerchantSchema)
    def get(self, merchant_id):
        """Show one merchant"""
        return services.get_merchant(db.session, merchant_id)

    @blp.arguments(MerchantUpdateSchema)
    @blp.response(200, MerchantSchema)
    def patch(self, data, merchant_id):
        """Change a merchant's terms, or deactivate it

        A new earn rule or point price applies to orders recorded from now on.
        """
        return services.update_merchant(db.session, merchant_id, data)


@blp.route("/<id:merchant_id>/api-keys")
class MerchantKeys(MethodView):
    decorators = [operator_required]

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @blp.response(200, ApiKeyPageSchema)
    def get(self, args, merchant_id):
        """List a merchant's keys (prefixes only)"""
        return services.KEYS.list(db.session, merchant_id, **args)

    @blp.response(201, ApiKeyCreatedSchema)
    @idempotent(blp, ApiKeyCreatedSchema)
    def post(self, merchant_id):
        """Issue an additional key

        The key is shown only in this answer. Use it to rotate without downtime:
        deploy the new key, then revoke the old one.
        """
        key, clear = services.KEYS.issue(db.session, merchant_id, now=utcnow())
        return with_key(key, clear)


@blp.route("/<id:merchant_id>/api-keys/<id:key_id>/rotate")
class MerchantKeyRotation(MethodView):
    decorators = [operator_required]

    @blp.response(201, ApiKeyCreatedSchema)
    @idempotent(blp, ApiKeyCreatedSchema)
    def post(self, merchant_id, key_id):
        """Replace a key at once: the old key stops working, the new one is returned once"""
        key, clear = services.KEYS.rotate(db.session, merchant_id, key_id, now=utcnow())
        return with_key(key, clear)


@blp.route("/<id:merchant_id>/api-keys/<id:key_id>")
class MerchantKey(MethodView):
    decorators = [operator_required]

    @blp.response(204)
    def delete(self, merchant_id, key_id):
        """Revoke a key"""
        services.KEYS.revoke(db.session, merchant_id, key_id, now=utcnow())
