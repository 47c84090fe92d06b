"""Merchant API of the boutique: the catalog you supply, your vouchers, the redemptions to fulfil."""

from __future__ import annotations

import re

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app import unit_of_work
from app.auth import merchant_required
from app.boutique import catalog, services
from app.boutique.errors import VoucherNotFound
from app.boutique.schemas import (
    VOUCHER_CODE_PATTERN,
    CancelSchema,
    CodesAddedSchema,
    CodesAddSchema,
    FulfilSchema,
    ItemCreatedSchema,
    ItemCreateSchema,
    ItemPageSchema,
    ItemQuerySchema,
    ItemSchema,
    ItemUpdateSchema,
    RedemptionPageSchema,
    RedemptionQuerySchema,
    RedemptionSchema,
    VoucherRedeemedSchema,
)
from app.extensions import db
from app.unit_of_work import idempotent

catalog_blp = Blueprint(
    "catalog", __name__, url_prefix="/v1/catalog/items", description="Merchant: rewards you supply to the boutique."
)
vouchers_blp = Blueprint(
    "vouchers", __name__, url_prefix="/v1/vouchers", description="Merchant: accept your voucher codes at checkout."
)
redemptions_blp = Blueprint(
    "redemptions",
    __name__,
    url_prefix="/v1/redemptions",
    description="Merchant: fulfil or cancel redemptions of your rewards.",
)
API_BLUEPRINTS = (catalog_blp, vouchers_blp, redemptions_blp)


@catalog_blp.route("")
class Items(MethodView):
    decorators = [merchant_required]

    @catalog_blp.arguments(ItemCreateSchema)
    @catalog_blp.response(201, ItemCreatedSchema)
    @idempotent(catalog_blp, ItemCreatedSchema, conflicts="A voucher code exists already among your codes.")
    def post(self, data):
        """Supply a reward

        A `physical` item has a `stock`; a `voucher` has codes, uploaded in
        `voucher_codes` or generated (`generate_codes`, shown only in this
        answer), and its stock is its number of codes not yet given out. The
        item is priced in points for members and in `wholesale_value_cents`
        (your currency) for what the operator pays you when it is fulfilled.
        """
        return catalog.create_item(unit_of_work.current(), g.merchant, data)

    @catalog_blp.arguments(ItemQuerySchema, location="query", unknown=RAISE)
    @catalog_blp.response(200, ItemPageSchema)
    def get(self, args):
        """List your catalog items, oldest first"""
        return catalog.list_items(db.session, g.merchant, **args)


@catalog_blp.route("/<id:item_id>")
class ItemById(MethodView):
    decorators = [merchant_required]

    @catalog_blp.response(200, ItemSchema)
    def get(self, item_id):
        """Show one of your catalog items"""
        return catalog.get_item(db.session, g.merchant, item_id)

    @catalog_blp.arguments(ItemUpdateSchema)
    @catalog_blp.response(200, ItemSchema)
    @idempotent(catalog_blp, ItemSchema, status=200)
    def patch(self, data, item_id):
        """Change an item: texts, prices, stock (physical), active window, or `active`

        Redemptions already placed keep the price they were placed at.
        """
        return catalog.update_item(unit_of_work.current(), g.merchant, item_id, data)


@catalog_blp.route("/<id:item_id>/deactivate")
class ItemDeactivation(MethodView):
    decorators = [merchant_required]

    @catalog_blp.response(200, ItemSchema)
    @idempotent(catalog_blp, ItemSchema, status=200)
    def post(self, item_id):
        """Withdraw an item from the boutique

        Members can no longer redeem it; placed redemptions still await your
        fulfilment. `PATCH` with `"active": true` brings it back.
        """
        return catalog.deactivate_item(unit_of_work.current(), g.merchant, item_id)


@catalog_blp.route("/<id:item_id>/codes")
class ItemCodes(MethodView):
    decorators = [merchant_required]

    @catalog_blp.arguments(CodesAddSchema)
    @catalog_blp.response(201, CodesAddedSchema)
    @idempotent(catalog_blp, CodesAddedSchema, conflicts="A code exists already among your codes.")
    def post(self, data, item_id):
        """Add codes to a voucher item (uploaded or generated); its stock grows by as many"""
        return catalog.add_codes(unit_of_work.current(), g.merchant, item_id, data)


@vouchers_blp.route("/<string:code>/redeem")
class VoucherRedemption(MethodView):
    decorators = [merchant_required]

    @vouchers_blp.response(200, VoucherRedeemedSchema)
    @idempotent(
        vouchers_blp,
        VoucherRedeemedSchema,
        status=200,
        conflicts="The code was used already, or not yet given to a member.",
    )
    def post(self, code):
        """Accept a voucher code at your checkout

        Succeeds once per code; the second time answers 409. Only the merchant
        that supplied the voucher can accept its codes.
        """
        if not re.fullmatch(VOUCHER_CODE_PATTERN, code):
            raise VoucherNotFound()
        return catalog.redeem_voucher(unit_of_work.current(), g.merchant, code)


@redemptions_blp.route("")
class Redemptions(MethodView):
    decorators = [merchant_required]

    @redemptions_blp.arguments(RedemptionQuerySchema, location="query", unknown=RAISE)
    @redemptions_blp.response(200, RedemptionPageSchema)
    def get(self, args):
        """List redemptions of your rewards, oldest first

        `status=placed` lists what is waiting for you to send.
        """
        return services.list_supplied(db.session, g.merchant, **args)


@redemptions_blp.route("/<id:redemption_id>")
class RedemptionById(MethodView):
    decorators = [merchant_required]

    @redemptions_blp.response(200, RedemptionSchema)
    def get(self, redemption_id):
        """Show one redemption of your rewards"""
        return services.get_supplied(db.session, g.merchant, redemption_id)


@redemptions_blp.route("/<id:redemption_id>/fulfil")
class RedemptionFulfilment(MethodView):
    decorators = [merchant_required]

    @redemptions_blp.arguments(FulfilSchema)
    @redemptions_blp.response(200, RedemptionSchema)
    @idempotent(redemptions_blp, RedemptionSchema, status=200, conflicts="The redemption was cancelled or timed out.")
    def post(self, data, redemption_id):
        """Mark a placed redemption as sent

        The member's held points are spent and you are owed the item's
        wholesale value. Repeating the call answers the fulfilled redemption.
        """
        return services.fulfil_redemption(unit_of_work.current(), g.merchant, redemption_id, **data)


@redemptions_blp.route("/<id:redemption_id>/cancel")
class RedemptionCancellation(MethodView):
    decorators = [merchant_required]

    @redemptions_blp.arguments(CancelSchema)
    @redemptions_blp.response(200, RedemptionSchema)
    @idempotent(redemptions_blp, RedemptionSchema, status=200, conflicts="The redemption was fulfilled or timed out.")
    def post(self, data, redemption_id):
        """Cancel a placed redemption, with a reason shown to the member

        The member's points are released and the unit returns to stock.
        Repeating the call answers the cancelled redemption.
        """
        return services.cancel_redemption(unit_of_work.current(), g.merchant, redemption_id, **data)
