"""The paid card's page: its terms, the member's card and vouchers, subscribe and cancel.

Subscribing is two steps. ``POST /card/checkout`` makes the member's SetupIntent and
shows the card form, the one page that loads Stripe.js (from ``STRIPE_JS_URL``, with
that origin in its own Content-Security-Policy); the browser confirms the card with
Stripe, so the number never reaches us, and posts the SetupIntent's id to
``POST /card/subscribe``, which subscribes the member and shows the card active.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import validate

from app import unit_of_work
from app.card import services as card
from app.card import subscriptions
from app.constants import STRIPE_ID_LENGTH_MAX
from app.errors import PROBLEMS, DomainError
from app.extensions import db
from app.payments import stripe_gateway
from app.web.views import _parse, bp, member_required


class SubscribeForm(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    setup_intent = ma.fields.String(
        required=True,
        validate=[validate.Length(6, STRIPE_ID_LENGTH_MAX), validate.Regexp(r"^seti_[A-Za-z0-9_]+$")],
    )


@bp.get("/card")
def card_page():
    return _card_page()


def _card_page(errors: list[str] | None = None, status: int = 200):
    session, now = db.session, unit_of_work.current().now
    terms = card.current_terms(session)
    state = vouchers = held = None
    if g.member is not None:
        state = card.state_of(session, g.member.id, now)
        held = session.get(card.CardSubscription, g.member.id)
        vouchers = card.vouchers_of(session, g.member.id)
    page = render_template(
        "card.html", terms=terms, state=state, held=held, vouchers=vouchers, now=now, errors=errors or []
    )
    return page, status


@bp.post("/card/checkout")
@member_required
def card_checkout():
    try:
        intent = subscriptions.start_checkout(
            unit_of_work.current(), stripe_gateway.current(), g.member.id, g.member.email
        )
    except DomainError as error:
        return _refused(error)
    g.loads_stripe_js = True  # app.security_headers lets this page load Stripe.js
    return render_template(
        "card_checkout.html",
        terms=card.get_terms(db.session),
        intent=intent,
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
    )


@bp.post("/card/subscribe")
@member_required
def card_subscribe():
    data = _parse(SubscribeForm(), request.form)
    try:
        held = subscriptions.subscribe(
            unit_of_work.current(), stripe_gateway.current(), g.member.id, data["setup_intent"]
        )
    except DomainError as error:
        return _refused(error)
    flash(f"Welcome: your card is active until {held.renews_at:%d %b %Y}.")
    return redirect(url_for("web.card_page"), code=303)


@bp.post("/card/cancel")
@member_required
def card_cancel():
    try:
        held = subscriptions.cancel(unit_of_work.current(), stripe_gateway.current(), g.member.id)
    except DomainError as error:
        return _refused(error)
    flash(f"Your card will not renew: its benefits last until {held.renews_at:%d %b %Y}.")
    return redirect(url_for("web.card_page"), code=303)


def _refused(error: DomainError):
    unit_of_work.current().discard()
    return _card_page([error.detail], PROBLEMS[error.problem].status)
