"""The paid card: terms through the operator's API, and a member who takes the card
through the /card pages, confirming the SetupIntent at Stripe as Stripe.js would."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.card.models import CardSubscription, CardTerms
from tests.factories.billing import VISA, card
from tests.factories.members import csrf_of, sign_in

TERMS = {
    "name": "Coalition Card",
    "price_cents": 4900,
    "currency": "EUR",
    "interval": "year",
    "earn_multiplier_bp": 15000,
    "voucher": {"value_cents": 1000, "per_spend_cents": 50000},
}
SETUP_INTENT = re.compile(r'name="setup_intent" value="(seti_[A-Za-z0-9_]+)"')


def terms_body(**overrides) -> dict:
    return {**TERMS, **overrides}


def put_terms(client, admin_headers, **overrides):
    return client.put("/v1/card", json=terms_body(**overrides), headers=admin_headers)


def newest_terms(engine) -> CardTerms:
    with Session(engine) as session:
        return session.execute(select(CardTerms).order_by(CardTerms.id.desc()).limit(1)).scalar_one()


def card_row(engine, member_id: int) -> CardSubscription | None:
    with Session(engine) as session:
        return session.get(CardSubscription, member_id)


def checkout(browser):
    """The checkout page (the SetupIntent made) and its SetupIntent id."""
    page = browser.get("/card")
    started = browser.post("/card/checkout", data={"csrf_token": csrf_of(page)})
    found = SETUP_INTENT.search(started.get_data(as_text=True))
    return started, found.group(1) if found else None


def take_card(app, engine, stripe_client, email: str, number: str = VISA):
    """A signed-in browser whose member subscribed; returns it and the subscribe answer."""
    browser = sign_in(app, engine, email)
    started, setup_intent = checkout(browser)
    assert started.status_code == 200, started.get_data(as_text=True)
    stripe_client.v1.setup_intents.confirm(setup_intent, params={"payment_method": card(stripe_client, number).id})
    answer = browser.post("/card/subscribe", data={"setup_intent": setup_intent, "csrf_token": csrf_of(started)})
    return browser, answer


def member_id_of(engine, email: str) -> int:
    from app.members.models import Member

    with Session(engine) as session:
        return session.execute(select(Member.id).where(Member.email == email)).scalar_one()
