"""The paid card end to end in a real headless chromium, on localstripe: a member
signs in, takes the card with localstripe's Stripe.js stand-in (the card number goes
to "Stripe" only), sees it active; the subscription deleted at Stripe comes back as a
signed ``customer.subscription.deleted`` over real HTTP and ends the benefits.
Screenshots at desktop and 375 px go beside the boutique's (test-artifacts/boutique/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy.orm import Session

from app.card import services
from app.card.models import CardSubscription
from app.unit_of_work import UnitOfWork
from ledger.types import utcnow
from tests.conftest import ADMIN_KEY, make_app, serve
from tests.e2e.test_boutique_browser import desktop_page, shoot
from tests.factories.card import TERMS, member_id_of
from tests.factories.merchants import auth, merchant_body
from tests.factories.names import unique, unique_email

WEBHOOK_SECRET = "whsec_test_e2e_card"
PUBLISHABLE_KEY = "pk_test_loyalty_platform"
HTTP_TIMEOUT_S = 10
# localstripe waits a second before it sends an event; the rest is slack for a loaded machine.
DELIVERY_TIMEOUT_S = 15.0
POLL_S = 0.1
ADMIN = auth(ADMIN_KEY)


@dataclass(frozen=True)
class Platform:
    url: str
    engine: object


@pytest.fixture(scope="module")
def platform(databases, stripe_fake) -> Iterator[Platform]:
    """The platform on its own database, on loopback, with Stripe.js from localstripe
    and registered at localstripe for the card's webhooks."""
    application = make_app(
        databases.new(),
        STRIPE_API_BASE=stripe_fake.url,
        STRIPE_API_KEY=stripe_fake.api_key,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_JS_URL=f"{stripe_fake.url}/js.stripe.com/v3/",
        STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
    )
    from app.extensions import db

    with application.app_context():
        engine = db.engine
    try:
        with serve(application) as base:
            hook = {
                "url": f"{base}/stripe/webhook",
                "secret": WEBHOOK_SECRET,
                "events": ["customer.subscription.deleted"],
            }
            registered = requests.post(f"{stripe_fake.url}/_config/webhooks/{unique('card')}", json=hook, timeout=10)
            assert registered.status_code == 200, registered.text
            yield Platform(base, engine)
    finally:
        application.extensions["stripe_gateway"].close()
        engine.dispose()


def sign_in(page, base: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/signin?next=/card")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.goto(f"{base}/dev/outbox")
    page.locator("article.mail", has_text=email).first.locator("a").first.click()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("You are signed in.")).to_be_visible()


def take_the_card(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/card")
    expect(page.get_by_test_id("card-status")).to_have_text("No card")
    shoot(page, "card-01-terms")
    page.get_by_role("button", name="Take the card").click()
    expect(page.get_by_role("heading", name="Take the card")).to_be_visible()
    card = page.locator("#card-element")
    # localstripe's stand-in for Stripe Elements: plain inputs named by their placeholder.
    for placeholder, value in (
        ("number", "4242424242424242"),
        ("exp_month", "12"),
        ("exp_year", "30"),
        ("cvc", "123"),
        ("postal_code", "75001"),
    ):
        card.get_by_placeholder(placeholder, exact=True).fill(value)
    shoot(page, "card-02-checkout")
    page.get_by_role("button", name="Pay and take the card").click()
    expect(page.get_by_test_id("card-status")).to_have_text("Active")


def spend(engine, member_id: int, amount_cents: int) -> list[dict]:
    """What the order path does after recording an order (``on_order`` in its unit of work)."""
    with Session(engine) as session:
        uow = UnitOfWork(session)
        issued = services.on_order(uow, member_id, amount_cents, "EUR")
        uow.commit(None)
    return issued


def card_of(engine, member_id: int) -> CardSubscription:
    with Session(engine) as session:
        return session.get(CardSubscription, member_id)


def benefits(engine, member_id: int) -> tuple[str, int]:
    with Session(engine) as session:
        now = utcnow()
        return services.state_of(session, member_id, now)["status"], services.multiplier_bp(session, member_id, now)


def wait_for_status(engine, member_id: int, status: str) -> None:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while card_of(engine, member_id).status != status:
        if time.monotonic() > deadline:
            pytest.fail(f"the card did not become {status} within {DELIVERY_TIMEOUT_S} s")
        time.sleep(POLL_S)


@pytest.fixture
def offered(platform):
    answer = requests.put(f"{platform.url}/v1/card", json=TERMS, headers=ADMIN, timeout=HTTP_TIMEOUT_S)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_a_member_takes_the_card_and_stripe_ending_it_ends_the_benefit(platform, offered, stripe_client):
    from playwright.sync_api import expect

    base, email = platform.url, unique_email()
    with desktop_page() as page:
        sign_in(page, base, email)
        take_the_card(page, base)
        member_id = member_id_of(platform.engine, email)
        card = card_of(platform.engine, member_id)
        expect(page.get_by_test_id("renews-at")).to_have_text(card.renews_at.strftime("%d %b %Y"))
        shoot(page, "card-03-active")
        assert benefits(platform.engine, member_id) == ("active", TERMS["earn_multiplier_bp"])
        (voucher,) = spend(platform.engine, member_id, TERMS["voucher"]["per_spend_cents"])
        page.reload()
        expect(page.locator("li.voucher code")).to_have_text(voucher["code"])
        shoot(page, "card-04-voucher")

        stripe_client.v1.subscriptions.cancel(card.stripe_subscription_id)  # ended at Stripe, at once
        wait_for_status(platform.engine, member_id, "canceled")
        page.reload()
        expect(page.get_by_test_id("card-status")).to_have_text("Ended")
        shoot(page, "card-05-ended")

    assert benefits(platform.engine, member_id) == ("canceled", 0)
    assert stripe_client.v1.subscriptions.retrieve(card.stripe_subscription_id).status == "canceled"


def test_a_holder_earns_with_the_multiplier_and_gets_a_voucher_at_the_spend_step(platform, offered):
    from playwright.sync_api import expect

    base, email = platform.url, unique_email()
    merchant = requests.post(f"{base}/v1/merchants", json=merchant_body(), headers=ADMIN, timeout=10).json()
    with desktop_page() as page:
        sign_in(page, base, email)
        take_the_card(page, base)
        answers = []
        for amount_cents in (30000, 25000, 50000):  # 500 EUR reached at the second order, again at the third
            order = {"order_id": unique("o"), "amount_cents": amount_cents, "currency": "EUR", "member_email": email}
            answer = requests.post(f"{base}/v1/orders", json=order, headers=auth(merchant["api_key"]), timeout=10)
            assert answer.status_code == 201, answer.text
            answers.append(answer.json())
        page.goto(f"{base}/card")
        expect(page.locator("li.voucher")).to_have_count(2)
        shoot(page, "card-06-vouchers-from-orders")

    card_bonuses = [b for answer in answers for b in answer.get("bonuses", []) if b.get("source") == "card"]
    assert len(card_bonuses) == 3 and all(b["name"] == TERMS["name"] and b["points"] > 0 for b in card_bonuses)
