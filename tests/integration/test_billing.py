"""Merchant billing against a real (fake) Stripe: localstripe on loopback.

What the platform did at Stripe is read back from localstripe with the SDK, so a
test fails when a customer is missing, doubled, or its default payment method is
not the one the answer shows. localstripe ignores idempotency keys: one customer
after repeated and concurrent calls is our own idempotency, not Stripe's.
"""

from __future__ import annotations

import threading

import pytest

from tests.conftest import make_app
from tests.factories.billing import DECLINED_CARD, billing_path, card, confirmed, sepa_debit, set_up

PROBLEM_MIME = "application/problem+json"
CONCURRENT_CALLS = 4


def customers_of(stripe_client, merchant_id: str) -> list[str]:
    """The ids of the Stripe customers made for this merchant."""
    customers = stripe_client.v1.customers.list(params={"limit": 100}).auto_paging_iter()
    return [c.id for c in customers if c.to_dict()["metadata"].get("merchant_id") == merchant_id]


def problem(response, status: int, kind: str) -> dict:
    assert (response.status_code, response.mimetype) == (status, PROBLEM_MIME), response.get_json()
    body = response.get_json()
    assert body["type"] == f"/problems/{kind}"
    return body


def test_billing_is_set_up_end_to_end_and_stripe_holds_the_default(client, admin_headers, merchant, stripe_client):
    created = set_up(client, admin_headers, merchant["id"])

    assert created.status_code == 201, created.get_json()
    setup = created.get_json()
    assert (setup["merchant_id"], setup["status"], setup["default_payment_method"]) == (
        merchant["id"],
        "setup_required",
        None,
    )
    customer = stripe_client.v1.customers.retrieve(setup["stripe_customer_id"])
    assert customer.to_dict()["metadata"] == {"merchant_id": merchant["id"]}
    intent = stripe_client.v1.setup_intents.retrieve(setup["setup_intent_id"])
    assert (intent.customer, intent.usage, intent.payment_method_types) == (
        customer.id,
        "off_session",
        ["card", "sepa_debit"],
    )
    assert setup["setup_intent_client_secret"] == intent.client_secret

    payment_method = confirmed(stripe_client, intent.id, card(stripe_client))
    saved = client.put(billing_path(merchant["id"]), json={"payment_method": payment_method}, headers=admin_headers)

    assert saved.status_code == 200, saved.get_json()
    state = saved.get_json()
    assert state["status"] == "ready"
    assert (state["default_payment_method"], state["payment_method_kind"]) == (payment_method, "card")
    assert (state["payment_method_last4"], state["payment_method_brand"]) == ("4242", "visa")
    customer = stripe_client.v1.customers.retrieve(setup["stripe_customer_id"])
    assert customer.invoice_settings.default_payment_method == payment_method
    assert stripe_client.v1.payment_methods.retrieve(payment_method).customer == customer.id
    shown = client.get(billing_path(merchant["id"]), headers=admin_headers)
    assert (shown.status_code, shown.get_json()) == (200, state)
    assert "setup_intent_client_secret" not in shown.get_json()


def test_a_second_post_answers_200_with_the_same_customer_and_stripe_has_one(
    client, admin_headers, merchant, stripe_client
):
    first = set_up(client, admin_headers, merchant["id"]).get_json()

    again = set_up(client, admin_headers, merchant["id"])

    assert again.status_code == 200, again.get_json()
    assert again.get_json()["stripe_customer_id"] == first["stripe_customer_id"]
    # The SetupIntent can still be confirmed: the same one, the same secret.
    assert again.get_json()["setup_intent_client_secret"] == first["setup_intent_client_secret"]
    assert customers_of(stripe_client, merchant["id"]) == [first["stripe_customer_id"]]


def test_a_post_after_the_setup_intent_succeeded_opens_a_fresh_one(client, admin_headers, merchant, stripe_client):
    first = set_up(client, admin_headers, merchant["id"]).get_json()
    confirmed(stripe_client, first["setup_intent_id"], card(stripe_client))

    again = set_up(client, admin_headers, merchant["id"]).get_json()

    assert again["stripe_customer_id"] == first["stripe_customer_id"]
    assert again["setup_intent_id"] != first["setup_intent_id"]
    assert again["setup_intent_client_secret"] != first["setup_intent_client_secret"]
    assert stripe_client.v1.setup_intents.retrieve(again["setup_intent_id"]).status == "requires_payment_method"


def test_concurrent_posts_make_one_customer(app, admin_headers, merchant, stripe_client):
    barrier = threading.Barrier(CONCURRENT_CALLS)
    statuses: list[int] = []

    def call() -> None:
        barrier.wait()
        statuses.append(set_up(app.test_client(), admin_headers, merchant["id"]).status_code)

    threads = [threading.Thread(target=call) for _ in range(CONCURRENT_CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * (CONCURRENT_CALLS - 1) + [201]
    assert len(customers_of(stripe_client, merchant["id"])) == 1


def test_a_sepa_debit_mandate_becomes_the_default(client, admin_headers, merchant, stripe_client):
    setup = set_up(client, admin_headers, merchant["id"]).get_json()
    payment_method = confirmed(stripe_client, setup["setup_intent_id"], sepa_debit(stripe_client))

    saved = client.put(billing_path(merchant["id"]), json={"payment_method": payment_method}, headers=admin_headers)

    state = saved.get_json()
    assert (saved.status_code, state["status"], state["payment_method_kind"]) == (200, "ready", "sepa_debit")
    assert (state["payment_method_last4"], state["payment_method_brand"]) == ("3000", None)


def test_a_payment_method_before_billing_is_set_up_is_a_409(client, admin_headers, merchant, stripe_client):
    response = client.put(
        billing_path(merchant["id"]), json={"payment_method": card(stripe_client).id}, headers=admin_headers
    )

    problem(response, 409, "conflict")
    assert "POST" in response.get_json()["detail"]


@pytest.mark.parametrize(
    "body",
    [{"payment_method": "card_123"}, {"payment_method": "pm_"}, {"payment_method": "pm_a b"}, {}, {"pm": "pm_x"}],
    ids=["not-pm", "empty-id", "space", "missing", "unknown-field"],
)
def test_a_malformed_payment_method_is_a_422(client, admin_headers, merchant, body):
    set_up(client, admin_headers, merchant["id"])

    response = client.put(billing_path(merchant["id"]), json=body, headers=admin_headers)

    problem(response, 422, "validation-failed")


def test_a_payment_method_stripe_does_not_know_is_refused_and_nothing_changes(client, admin_headers, merchant):
    set_up(client, admin_headers, merchant["id"])

    response = client.put(billing_path(merchant["id"]), json={"payment_method": "pm_nosuch"}, headers=admin_headers)

    body = problem(response, 422, "payment-method-refused")
    assert "pm_nosuch" in body["detail"] and body["errors"]["payment_method"] == ["no such payment method"]
    assert client.get(billing_path(merchant["id"]), headers=admin_headers).get_json()["status"] == "setup_required"


def test_a_card_declined_at_attach_is_a_402_and_nothing_changes(client, admin_headers, merchant, stripe_client):
    setup = set_up(client, admin_headers, merchant["id"]).get_json()
    declined = card(stripe_client, DECLINED_CARD)

    response = client.put(billing_path(merchant["id"]), json={"payment_method": declined.id}, headers=admin_headers)

    body = problem(response, 402, "payment-method-declined")
    assert body["detail"] == "Your card was declined." and body["errors"] == {"payment_method": ["card_declined"]}
    assert client.get(billing_path(merchant["id"]), headers=admin_headers).get_json()["status"] == "setup_required"
    customer = stripe_client.v1.customers.retrieve(setup["stripe_customer_id"])
    assert customer.invoice_settings.default_payment_method is None


def test_billing_is_404_before_it_is_set_up(client, admin_headers, merchant):
    response = client.get(billing_path(merchant["id"]), headers=admin_headers)

    problem(response, 404, "not-found")
    assert "no billing yet" in response.get_json()["detail"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_an_unknown_merchant_is_a_404(client, admin_headers, method):
    response = client.open(
        billing_path("999999999"), method=method, json={"payment_method": "pm_x"}, headers=admin_headers
    )

    problem(response, 404, "not-found")
    assert response.get_json()["detail"] == "No merchant 999999999."


@pytest.mark.parametrize("role", ["merchant", "affiliate"])
def test_merchant_and_affiliate_keys_are_refused_and_stripe_sees_nothing(
    client, admin_headers, merchant, new_affiliate_key, stripe_client, role
):
    headers = merchant["headers"] if role == "merchant" else new_affiliate_key

    response = set_up(client, headers, merchant["id"])

    # The operator's routes answer any other key as no operator key at all.
    assert (response.status_code, response.mimetype) == (401, PROBLEM_MIME)
    assert customers_of(stripe_client, merchant["id"]) == []


@pytest.fixture
def new_affiliate_key(client, admin_headers) -> dict:
    from tests.factories.affiliates import new_affiliate

    return new_affiliate(client, admin_headers)["headers"]


@pytest.mark.parametrize(
    "config",
    [{"STRIPE_API_BASE": "http://127.0.0.1:9", "STRIPE_API_KEY": "sk_test_x"}, {"STRIPE_API_KEY": ""}],
    ids=["unreachable", "no-key"],
)
def test_stripe_failing_is_a_502_and_nothing_is_recorded(db_url, admin_headers, merchant, config):
    application = make_app(db_url, **config)
    client = application.test_client()
    try:
        response = set_up(client, admin_headers, merchant["id"])

        problem(response, 502, "payment-provider-error")
        problem(client.get(billing_path(merchant["id"]), headers=admin_headers), 404, "not-found")
    finally:
        application.extensions["stripe_gateway"].close()
        with application.app_context():
            from app.extensions import db

            db.engine.dispose()
