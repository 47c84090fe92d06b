from __future__ import annotations

from flask import g, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.affiliates import services
from app.affiliates.schemas import (
    AffiliateCreatedSchema,
    AffiliateCreateSchema,
    AffiliateKeyPageSchema,
    AffiliatePageSchema,
    AffiliateSchema,
    AffiliateUpdateSchema,
    ApplicationArgsSchema,
    ApplicationDecisionSchema,
    ApplicationPageSchema,
    ApplicationSchema,
    LinkCreateSchema,
    LinkPageSchema,
    LinkSchema,
    LinkUpdateSchema,
    ProgramCreateSchema,
    ProgramPageSchema,
    ProgramSchema,
    ProgramUpdateSchema,
)
from app.auth import affiliate_required, merchant_required, operator_required
from app.extensions import db
from app.keys import with_key
from app.merchants.schemas import ApiKeyCreatedSchema
from app.schemas import PageArgsSchema
from app.unit_of_work import idempotent
from ledger import utcnow

affiliates_blp = Blueprint(
    "affiliates", __name__, url_prefix="/v1/affiliates", description="Operator: affiliates and their keys."
)
programs_blp = Blueprint(
    "programs",
    __name__,
    url_prefix="/v1/programs",
    description="Merchant: affiliate programs and the affiliates applying to them.",
)
links_blp = Blueprint("links", __name__, url_prefix="/v1", description="Affiliate: tracking links and applications.")


# ----------------------------------------------------------------- operator


@affiliates_blp.route("")
class Affiliates(MethodView):
    decorators = [operator_required]

    @affiliates_blp.arguments(AffiliateCreateSchema)
    @affiliates_blp.response(201, AffiliateCreatedSchema)
    @idempotent(affiliates_blp, AffiliateCreatedSchema)
    def post(self, data):
        """Onboard an affiliate

        Returns the affiliate with its first API key, shown only in this answer.
        """
        affiliate, key, clear = services.create_affiliate(db.session, data, now=utcnow())
        return with_key(affiliate, clear, api_key_id=str(key.id))

    @affiliates_blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @affiliates_blp.response(200, AffiliatePageSchema)
    def get(self, args):
        """List affiliates, oldest first"""
        return services.list_affiliates(db.session, **args)


@affiliates_blp.route("/<id:affiliate_id>")
class AffiliateById(MethodView):
    decorators = [operator_required]

    @affiliates_blp.response(200, AffiliateSchema)
    def get(self, affiliate_id):
        """Show one affiliate"""
        return services.get_affiliate(db.session, affiliate_id)

    @affiliates_blp.arguments(AffiliateUpdateSchema)
    @affiliates_blp.response(200, AffiliateSchema)
    def patch(self, data, affiliate_id):
        """Deactivate or reactivate an affiliate"""
        return services.update_affiliate(db.session, affiliate_id, data)


@affiliates_blp.route("/<id:affiliate_id>/api-keys")
class AffiliateKeys(MethodView):
    decorators = [operator_required]

    @affiliates_blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @affiliates_blp.response(200, AffiliateKeyPageSchema)
    def get(self, args, affiliate_id):
        """List an affiliate's keys (prefixes only)"""
        return services.KEYS.list(db.session, affiliate_id, **args)

    @affiliates_blp.response(201, ApiKeyCreatedSchema)
    @idempotent(affiliates_blp, ApiKeyCreatedSchema)
    def post(self, affiliate_id):
        """Issue an additional affiliate key (shown once)"""
        key, clear = services.KEYS.issue(db.session, affiliate_id, now=utcnow())
        return with_key(key, clear)


@affiliates_blp.route("/<id:affiliate_id>/api-keys/<id:key_id>/rotate")
class AffiliateKeyRotation(MethodView):
    decorators = [operator_required]

    @affiliates_blp.response(201, ApiKeyCreatedSchema)
    @idempotent(affiliates_blp, ApiKeyCreatedSchema)
    def post(self, affiliate_id, key_id):
        """Replace an affiliate key at once: the old key stops, the new one is returned once"""
        key, clear = services.KEYS.rotate(db.session, affiliate_id, key_id, now=utcnow())
        return with_key(key, clear)


@affiliates_blp.route("/<id:affiliate_id>/api-keys/<id:key_id>")
class AffiliateKey(MethodView):
    decorators = [operator_required]

    @affiliates_blp.response(204)
    def delete(self, affiliate_id, key_id):
        """Revoke an affiliate key"""
        services.KEYS.revoke(db.session, affiliate_id, key_id, now=utcnow())


# ----------------------------------------------------------------- merchant: programs


@programs_blp.route("")
class Programs(MethodView):
    decorators = [merchant_required]

    @programs_blp.arguments(ProgramCreateSchema)
    @programs_blp.response(201, ProgramSchema)
    @idempotent(programs_blp, ProgramSchema)
    def post(self, data):
        """Open an affiliate program

        Commission per sale: a percentage of the order's net amount (basis
        points) or a fixed amount; optionally a fixed amount per lead and a cap
        per order. The network fee is paid by you on top of each commission.
        """
        return services.create_program(db.session, g.merchant, data, now=utcnow())

    @programs_blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @programs_blp.response(200, ProgramPageSchema)
    def get(self, args):
        """List your programs"""
        return services.list_programs(db.session, g.merchant, **args)


@programs_blp.route("/<id:program_id>")
class ProgramById(MethodView):
    decorators = [merchant_required]

    @programs_blp.response(200, ProgramSchema)
    def get(self, program_id):
        """Show one of your programs"""
        return services.get_program(db.session, g.merchant, program_id)

    @programs_blp.arguments(ProgramUpdateSchema)
    @programs_blp.response(200, ProgramSchema)
    def patch(self, data, program_id):
        """Pause, resume or change a program

        A paused program's links answer 404 within seconds and its tokens earn
        no commission (`program_paused`).
        """
        return services.update_program(db.session, g.merchant, program_id, data)


@programs_blp.route("/<id:program_id>/applications")
class ProgramApplications(MethodView):
    @affiliate_required
    @programs_blp.response(201, ApplicationSchema)
    @idempotent(programs_blp, ApplicationSchema, conflicts="You already applied to this program.")
    def post(self, program_id):
        """Apply to a program (affiliate key)

        Approved at once when the program auto-approves affiliates, pending otherwise.
        """
        return services.apply(db.session, g.affiliate, program_id, now=utcnow())

    @merchant_required
    @programs_blp.arguments(ApplicationArgsSchema, location="query", unknown=RAISE)
    @programs_blp.response(200, ApplicationPageSchema)
    def get(self, args, program_id):
        """List a program's applications and affiliates (merchant key)

        Filter with `status=approved` for the program's affiliates.
        """
        return services.list_applications(db.session, g.merchant, program_id, **args)


@programs_blp.route("/<id:program_id>/applications/<id:application_id>")
class ProgramApplication(MethodView):
    decorators = [merchant_required]

    @programs_blp.arguments(ApplicationDecisionSchema)
    @programs_blp.response(200, ApplicationSchema)
    def patch(self, data, program_id, application_id):
        """Approve or refuse an affiliate's application

        Refusing an approved affiliate stops its links and its new commissions.
        """
        return services.decide_application(
            db.session, g.merchant, program_id, application_id, data["status"], now=utcnow()
        )


# ----------------------------------------------------------------- affiliate: links


def _with_url(link):
    link.url = url_for("clicks.follow", code=link.code, _external=True)
    return link


@links_blp.route("/links")
class Links(MethodView):
    decorators = [affiliate_required]

    @links_blp.arguments(LinkCreateSchema)
    @links_blp.response(201, LinkSchema)
    @idempotent(links_blp, LinkSchema)
    def post(self, data):
        """Create a tracking link

        Needs an approved application to the program. The landing URL must be
        https, on the default port, on one of the merchant's registered domains
        or a subdomain of one; anything else is refused with 422.
        """
        return _with_url(services.create_link(db.session, g.affiliate, data, now=utcnow()))

    @links_blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @links_blp.response(200, LinkPageSchema)
    def get(self, args):
        """List your links"""
        page = services.list_links(db.session, g.affiliate, **args)
        for link in page.data:
            _with_url(link)
        return page


@links_blp.route("/links/<id:link_id>")
class LinkById(MethodView):
    decorators = [affiliate_required]

    @links_blp.response(200, LinkSchema)
    def get(self, link_id):
        """Show one of your links"""
        return _with_url(services.get_link(db.session, g.affiliate, link_id))

    @links_blp.arguments(LinkUpdateSchema)
    @links_blp.response(200, LinkSchema)
    def patch(self, data, link_id):
        """Pause or resume a link (a paused link answers 404 within seconds)"""
        return _with_url(services.update_link(db.session, g.affiliate, link_id, data))


@links_blp.route("/affiliate/applications")
class MyApplications(MethodView):
    decorators = [affiliate_required]

    @links_blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @links_blp.response(200, ApplicationPageSchema)
    def get(self, args):
        """List your applications to programs and their status"""
        return services.affiliate_applications(db.session, g.affiliate, **args)
