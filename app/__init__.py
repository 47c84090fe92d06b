"""The Flask application: create_app(), extensions, blueprints, error handling."""

from __future__ import annotations

import os

from flask import Flask

from app import config as app_config
from app.converters import IdConverter, id_schema


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["id"] = IdConverter
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(app_config.load(app.instance_path))
    if test_config:
        app.config.update(test_config)
    app_config.check_production(app.config)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", app_config.engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    from app import cli, errors, input_guard, rate_limits, sealing, security_headers, unit_of_work
    from app.clicks import dispatch as click_dispatch
    from app.extensions import db, migrate
    from app.identity.auth import public
    from app.payments import stripe_gateway
    from app.transparency import services as transparency
    from app.web import (
        audience_views,  # noqa: F401 (the unsubscribe pages, on the web blueprint)
        card_views,  # noqa: F401 (the /card pages, on the web blueprint before it is registered)
        contest_views,  # noqa: F401 (the members' contest pages, on the web blueprint)
        offer_views,  # noqa: F401 (the offer mails' open pixel and link)
    )
    from app.web import views as web
    from app.webhooks import services as webhook_services

    transparency.configure(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    _register_json_api(app)
    web.register(app)  # the members' pages: HTML, outside the JSON API and its spec
    errors.register(app, page=web.error_page)  # problem+json under /v1, HTML pages elsewhere
    click_dispatch.install(app)  # /c/<code> ahead of Flask's stack; inside the ProxyFix rate_limits may add
    rate_limits.register(app)
    input_guard.register(app)
    unit_of_work.register(app)
    security_headers.register(app)  # nosniff, CSP, no framing, no-store, HSTS in production
    unit_of_work.register_outbox(webhook_services.emit)
    _register_redirect(app)
    _register_stripe(app)
    _register_docs(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            unit_of_work.configure_sqlite(db.engine)
    sealing.register(app)
    stripe_gateway.register(app)
    cli.register(app)

    @app.get("/health")
    @public
    def health():
        return {"status": "ok"}

    from app import observability  # request ids, JSON logs, /metrics and /ready

    observability.register(app)

    return app


def _register_json_api(app: Flask) -> None:
    """The /v1 blueprints, under one Api: the spec is built from this app's blueprints only."""
    from app import errors
    from app.affiliates.views import affiliates_blp, links_blp, programs_blp
    from app.audience.views import blp as interests_blp
    from app.billing.views import blp as billing_blp
    from app.boutique.views import API_BLUEPRINTS as boutique_blps
    from app.campaigns.views import blp as campaigns_blp
    from app.card.views import blp as card_blp
    from app.commissions.views import blp as commissions_blp
    from app.contests.views import blp as contests_blp
    from app.members.views import blp as members_blp
    from app.merchants.views import blp as merchants_blp
    from app.offers.views import blp as offers_blp
    from app.orders.views import blp as orders_blp
    from app.programme.views import blp as tiers_blp
    from app.reports.views import blp as reports_blp
    from app.segments.views import blp as segments_blp
    from app.settlement.views import blp as settlement_blp
    from app.transparency.views import blp as transparency_blp
    from app.webhooks.views import blp as webhooks_blp

    api = errors.ProblemApi()
    api.init_app(
        app,
        spec_kwargs={
            "info": {
                "description": "Coalition loyalty and affiliate platform. All calls take `Authorization: Bearer <key>`."
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.register_converter(IdConverter, id_schema)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    json_api = (
        merchants_blp,
        orders_blp,
        tiers_blp,
        members_blp,
        *boutique_blps,
        webhooks_blp,
        affiliates_blp,
        programs_blp,
        links_blp,
        commissions_blp,
        settlement_blp,
        billing_blp,
        campaigns_blp,
        card_blp,
        interests_blp,
        segments_blp,
        offers_blp,
        contests_blp,
        reports_blp,
        transparency_blp,
    )
    for blp in json_api:
        api.register_blueprint(blp)


def _register_redirect(app: Flask) -> None:
    """The /c/<code> tracking redirect: HTML, outside the spec, with its click buffer."""
    from app.clicks import services as clicks
    from app.clicks.views import blp as clicks_blp

    app.register_blueprint(clicks_blp)
    clicks.register(app)


def _register_docs(app: Flask) -> None:
    """The browsable API reference at /docs: HTML, outside the spec."""
    from app.api_docs import blp as docs_blp

    app.register_blueprint(docs_blp)


def _register_stripe(app: Flask) -> None:
    """Stripe's webhooks at /stripe/webhook: outside the spec, answered in problem+json."""
    from app.settlement.views import stripe_blp

    app.register_blueprint(stripe_blp)
