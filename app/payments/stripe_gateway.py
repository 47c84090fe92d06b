"""The one module that calls Stripe (``tests/unit/test_architecture.py`` holds it).

It is configured from the app's config (``STRIPE_API_KEY``, ``STRIPE_API_BASE``;
tests point the base at localstripe) through a ``stripe.StripeClient`` of its own,
never the SDK's module-level globals, so two apps in one process can talk to two
Stripes. It answers plain dataclasses, never Stripe objects, and turns every Stripe
error into one of ``app.payments.errors``: the rest of the app knows no ``stripe``.

Every call that creates something sends an idempotency key derived from our own
ids (``merchant-{id}-customer``, ``merchant-{id}-setup-{n}``), so the SDK's own
retries and ours reach one object at Stripe. Stripe keeps a key for 24 hours and
the test fake not at all: callers still make their side idempotent by themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from flask import Flask, current_app

from app.constants import BILLING_PAYMENT_METHOD_TYPES, STRIPE_NETWORK_RETRIES_MAX, STRIPE_TIMEOUT_S
from app.payments.errors import PaymentMethodDeclined, PaymentMethodRefused, PaymentProviderError, WebhookRefused

log = logging.getLogger(__name__)
_EXTENSION = "stripe_gateway"
# A SetupIntent in one of these can still be confirmed by the merchant.
_OPEN_SETUP_STATUSES = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


@dataclass(frozen=True)
class SetupIntent:
    id: str
    client_secret: str
    status: str
    # Set once confirmed: the saved payment method and the customer it is for.
    payment_method: str | None = None
    customer: str | None = None

    @property
    def open(self) -> bool:
        """Not yet succeeded nor canceled: the merchant can still confirm it."""
        return self.status in _OPEN_SETUP_STATUSES


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    kind: str
    last4: str | None
    brand: str | None


@dataclass(frozen=True)
class Payment:
    """An off-session PaymentIntent's outcome: ``succeeded``, ``failed`` (declined),
    or another Stripe status still on its way (``processing``: SEPA Direct Debit)."""

    id: str | None
    status: str
    error: str | None = None


@dataclass(frozen=True)
class Transfer:
    """A Stripe Connect transfer's outcome: ``paid`` (the money is on the connected
    account) or ``failed`` (Stripe refused it: unknown account, no balance...)."""

    id: str | None
    status: str
    error: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified Stripe event: its id, type and the object it is about (plain JSON)."""

    id: str
    type: str
    object: dict


@dataclass(frozen=True)
class Invoice:
    """A subscription's invoice: ``paid`` or not, what was paid, and the end of the
    period it pays for (a Unix time; None when Stripe did not say)."""

    id: str
    subscription: str | None
    customer: str | None
    status: str
    amount_paid_cents: int
    currency: str
    period_end: int | None


@dataclass(frozen=True)
class Subscription:
    """A Stripe subscription: its status, when its paid period ends (a Unix time)
    and the invoice that started it."""

    id: str
    customer: str | None
    status: str
    current_period_end: int | None
    cancel_at_period_end: bool
    latest_invoice: Invoice | None = None


# Stripe's own default: a signature older than this is refused (a replayed capture).
WEBHOOK_TOLERANCE_S = 300


def verified_event(payload: bytes, signature: str | None, secret: str) -> WebhookEvent:
    """The event Stripe signed with ``secret`` (header ``Stripe-Signature``), checked
    by the SDK; raises ``WebhookRefused`` when it is missing, wrong or stale."""
    if not secret:
        raise WebhookRefused("Stripe webhooks are not configured: set STRIPE_WEBHOOK_SECRET.")
    if not signature:
        raise WebhookRefused("No Stripe-Signature header.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_S)
    except stripe.SignatureVerificationError:
        raise WebhookRefused("The Stripe-Signature does not match, or is too old.") from None
    except ValueError:
        raise WebhookRefused("The payload is not a Stripe event.") from None
    found = event.to_dict()
    return WebhookEvent(id=found["id"], type=found["type"], object=(found.get("data") or {}).get("object") or {})


def payment_of(intent: dict) -> Payment:
    """A PaymentIntent's outcome from its JSON (a webhook's object)."""
    if intent.get("status") == "succeeded":
        return Payment(id=intent.get("id"), status="succeeded")
    error = (intent.get("last_payment_error") or {}).get("message") or "The payment was declined."
    return Payment(id=intent.get("id"), status="failed", error=error)


def invoice_of(found: dict) -> Invoice:
    """An invoice from its JSON (a webhook's object, or an expanded ``latest_invoice``)."""
    subscription = found.get("subscription")
    if subscription is None:  # newer API versions say it under parent
        details = (found.get("parent") or {}).get("subscription_details") or {}
        subscription = details.get("subscription")
    lines = (found.get("lines") or {}).get("data") or []
    period_end = ((lines[0].get("period") or {}).get("end") if lines else None) or found.get("period_end")
    return Invoice(
        id=str(found.get("id") or ""),
        subscription=_id_of(subscription),
        customer=_id_of(found.get("customer")),
        status=str(found.get("status") or ""),
        amount_paid_cents=int(found.get("amount_paid") or 0),
        currency=str(found.get("currency") or "").upper(),
        period_end=int(period_end) if isinstance(period_end, int) else None,
    )


def subscription_of(found: dict) -> Subscription:
    """A subscription from its JSON (a webhook's object or an API answer)."""
    period_end = found.get("current_period_end")
    if period_end is None:  # newer API versions keep it on the item
        items = (found.get("items") or {}).get("data") or []
        period_end = items[0].get("current_period_end") if items else None
    latest = found.get("latest_invoice")
    return Subscription(
        id=str(found.get("id") or ""),
        customer=_id_of(found.get("customer")),
        status=str(found.get("status") or ""),
        current_period_end=int(period_end) if isinstance(period_end, int) else None,
        cancel_at_period_end=bool(found.get("cancel_at_period_end")),
        latest_invoice=invoice_of(latest) if isinstance(latest, dict) else None,
    )


class StripeGateway:
    """Stripe as our code needs it: customers, SetupIntents, default payment methods,
    collections and Connect transfers."""

    def __init__(self, api_key: str, api_base: str):
        self._http = stripe.RequestsClient(timeout=STRIPE_TIMEOUT_S)
        self._client = None
        if api_key:
            self._client = stripe.StripeClient(
                api_key,
                base_addresses={"api": api_base},
                max_network_retries=STRIPE_NETWORK_RETRIES_MAX,
                http_client=self._http,
            )

    def create_customer(self, merchant_id: int, name: str) -> str:
        """A new Stripe customer for the merchant; returns its id (``cus_...``)."""
        params: Any = {"name": name, "metadata": {"merchant_id": str(merchant_id)}}
        with _translated("create a customer"):
            customer = self._v1().customers.create(
                params=params, options={"idempotency_key": f"merchant-{merchant_id}-customer"}
            )
        return customer.id

    def create_setup_intent(self, merchant_id: int, customer_id: str, number: int) -> SetupIntent:
        """The merchant's ``number``-th SetupIntent: saves a payment method for off-session charges."""
        params: Any = {
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": list(BILLING_PAYMENT_METHOD_TYPES),
            "metadata": {"merchant_id": str(merchant_id)},
        }
        with _translated("create a SetupIntent"):
            intent = self._v1().setup_intents.create(
                params=params, options={"idempotency_key": f"merchant-{merchant_id}-setup-{number}"}
            )
        return _setup_intent(intent)

    def setup_intent(self, intent_id: str) -> SetupIntent:
        with _translated("read a SetupIntent"):
            return _setup_intent(self._v1().setup_intents.retrieve(intent_id))

    def make_default_payment_method(self, customer_id: str, payment_method_id: str) -> PaymentMethod:
        """Attach the payment method to the customer (a no-op when it already is) and make
        it the customer's default for invoices and off-session payments."""
        with _translated("attach the payment method", refused=payment_method_id):
            found = self._v1().payment_methods.attach(payment_method_id, params={"customer": customer_id})
        params: Any = {"invoice_settings": {"default_payment_method": found.id}}
        with _translated("set the default payment method"):
            self._v1().customers.update(customer_id, params=params)
        return _payment_method(found)

    def collect(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_cents: int,
        currency: str,
        statement_id: int,
        attempt: int,
    ) -> Payment:
        """Charge a statement off-session: a confirmed PaymentIntent on the saved payment
        method, keyed ``statement-{id}-attempt-{n}``. A declined payment is a ``failed``
        Payment, not an error; Stripe unreachable or failing raises ``PaymentProviderError``."""
        params: Any = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": {"statement_id": str(statement_id), "attempt": str(attempt)},
        }
        try:
            with _translated("create a PaymentIntent"):
                intent = self._v1().payment_intents.create(
                    params=params, options={"idempotency_key": f"statement-{statement_id}-attempt-{attempt}"}
                )
        except PaymentMethodDeclined as declined:
            return Payment(id=declined.payment_intent_id, status="failed", error=declined.detail)
        return _payment(intent)

    def payment(self, intent_id: str) -> Payment:
        with _translated("read a PaymentIntent"):
            return _payment(self._v1().payment_intents.retrieve(intent_id))

    def find_collection(self, statement_id: int, attempt: int) -> Payment | None:
        """The PaymentIntent a started attempt made, if Stripe has one, found by its
        metadata with Stripe's search (localstripe has no search: this raises there)."""
        query = f"metadata['statement_id']:'{statement_id}' AND metadata['attempt']:'{attempt}'"
        params: Any = {"query": query, "limit": 1}
        with _translated("search PaymentIntents"):
            found = self._v1().payment_intents.search(params=params)
        return _payment(found.data[0]) if found.data else None

    def transfer(self, *, account: str, amount_cents: int, currency: str, payout_id: int) -> Transfer:
        """Pay a payout to a Stripe Connect account, keyed ``payout-{id}`` and in the
        transfer group ``payout-{id}`` (so that ``find_transfer`` can find it again). A
        transfer Stripe refuses is a ``failed`` Transfer; Stripe unreachable or failing
        raises ``PaymentProviderError`` (nothing is known: look it up before retrying)."""
        params: Any = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "destination": account,
            "transfer_group": _transfer_group(payout_id),
            "metadata": {"payout_id": str(payout_id)},
        }
        with _translated("create a transfer"):
            try:
                found = self._v1().transfers.create(params=params, options={"idempotency_key": f"payout-{payout_id}"})
            except stripe.InvalidRequestError as error:
                return Transfer(id=None, status="failed", error=error.user_message or "Stripe refused the transfer.")
        return Transfer(id=found.id, status="paid")

    def find_transfer(self, payout_id: int) -> Transfer | None:
        """The transfer a started payout made, if Stripe has one (by its transfer group)."""
        params: Any = {"transfer_group": _transfer_group(payout_id), "limit": 1}
        with _translated("list transfers"):
            found = self._v1().transfers.list(params=params)
        return Transfer(id=found.data[0].id, status="paid") if found.data else None

    # -- the paid loyalty card -------------------------------------------------------

    def create_card_plan(self, *, terms_id: int, name: str, amount_cents: int, currency: str, interval: str) -> str:
        """The Stripe plan (and its product) for one version of the card's terms, keyed
        ``card-terms-{id}-plan``; returns its id. Plans, not Prices: localstripe has no Prices."""
        params: Any = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "interval": interval,
            "product": {"name": name},
            "metadata": {"card_terms_id": str(terms_id)},
        }
        with _translated("create a plan"):
            plan = self._v1().plans.create(params=params, options={"idempotency_key": f"card-terms-{terms_id}-plan"})
        return plan.id

    def create_member_customer(self, member_id: int, email: str) -> str:
        """A new Stripe customer for a member who takes the card; returns its id."""
        params: Any = {"email": email, "metadata": {"member_id": str(member_id)}}
        with _translated("create a customer"):
            customer = self._v1().customers.create(
                params=params, options={"idempotency_key": f"member-{member_id}-customer"}
            )
        return customer.id

    def create_card_setup_intent(self, member_id: int, customer_id: str, number: int) -> SetupIntent:
        """The member's ``number``-th SetupIntent: the browser confirms it with Stripe.js,
        so that the card number goes to Stripe only."""
        params: Any = {
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": {"member_id": str(member_id)},
        }
        with _translated("create a SetupIntent"):
            intent = self._v1().setup_intents.create(
                params=params, options={"idempotency_key": f"member-{member_id}-setup-{number}"}
            )
        return _setup_intent(intent)

    def subscribe(self, *, member_id: int, customer_id: str, plan_id: str, number: int) -> Subscription:
        """The member's ``number``-th subscription to the plan, paid at once with the
        customer's default payment method (``error_if_incomplete``: a declined card
        raises ``PaymentMethodDeclined`` and leaves no subscription)."""
        params: Any = {
            "customer": customer_id,
            "items": [{"plan": plan_id}],
            "payment_behavior": "error_if_incomplete",
            "metadata": {"member_id": str(member_id)},
            "expand": ["latest_invoice"],
        }
        with _translated("create a subscription"):
            found = self._v1().subscriptions.create(
                params=params, options={"idempotency_key": f"member-{member_id}-subscription-{number}"}
            )
        return subscription_of(found.to_dict())

    def cancel_at_period_end(self, subscription_id: str) -> Subscription:
        """Stop the subscription from renewing: it stays active until its period ends,
        then Stripe deletes it (``customer.subscription.deleted``)."""
        params: Any = {"cancel_at_period_end": True}
        with _translated("cancel a subscription"):
            found = self._v1().subscriptions.update(subscription_id, params=params)
        return subscription_of(found.to_dict())

    def close(self) -> None:
        """Close the HTTP connections kept open to Stripe."""
        self._http.close()

    def _v1(self) -> Any:
        if self._client is None:
            raise PaymentProviderError("Stripe is not configured: set STRIPE_API_KEY.")
        return self._client.v1


@contextmanager
def _translated(action: str, *, refused: str | None = None) -> Iterator[None]:
    """Stripe's errors as ours: a declined card is the caller's 402, a payment method
    Stripe refuses (``refused`` names it) the caller's 422, anything else our 502."""
    try:
        yield
    except stripe.CardError as error:
        raise PaymentMethodDeclined(
            error.user_message or "The payment method was declined.",
            code=error.code,
            payment_intent_id=_intent_of(error),
        ) from None
    except stripe.InvalidRequestError as error:
        if refused is None:
            log.warning("Stripe refused to %s: %s", action, error)
            raise PaymentProviderError(f"Stripe refused to {action}.") from None
        reason = "no such payment method" if error.http_status == 404 else (error.user_message or "not usable")
        raise PaymentMethodRefused(refused, reason) from None
    except stripe.StripeError as error:
        log.warning("Stripe could not %s: %s", action, error)
        raise PaymentProviderError(f"Stripe could not {action} ({type(error).__name__}); try again later.") from None


def _payment(intent: Any) -> Payment:
    if intent.status == "succeeded":
        return Payment(id=intent.id, status="succeeded")
    error = (intent.to_dict().get("last_payment_error") or {}).get("message")
    if intent.status == "requires_payment_method":
        return Payment(id=intent.id, status="failed", error=error or "The payment method was declined.")
    return Payment(id=intent.id, status=intent.status, error=error)


def _intent_of(error: stripe.CardError) -> str | None:
    """The PaymentIntent a declined confirmation made: Stripe puts it in the error (localstripe does not)."""
    intent = ((error.json_body or {}).get("error") or {}).get("payment_intent") or {}
    found = intent.get("id") if isinstance(intent, dict) else None
    return found if isinstance(found, str) else None


def _transfer_group(payout_id: int) -> str:
    return f"payout-{payout_id}"


def _setup_intent(intent: Any) -> SetupIntent:
    found = intent.to_dict()
    return SetupIntent(
        id=intent.id,
        client_secret=intent.client_secret,
        status=intent.status,
        payment_method=_id_of(found.get("payment_method")),
        customer=_id_of(found.get("customer")),
    )


def _id_of(value: Any) -> str | None:
    """An object's id whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _payment_method(found: Any) -> PaymentMethod:
    details = found.to_dict().get(found.type) or {}
    return PaymentMethod(id=found.id, kind=found.type, last4=details.get("last4"), brand=details.get("brand"))


def register(app: Flask) -> None:
    """Build the app's gateway from its config."""
    app.extensions[_EXTENSION] = StripeGateway(app.config["STRIPE_API_KEY"], app.config["STRIPE_API_BASE"])


def current() -> StripeGateway:
    """The current app's gateway."""
    return current_app.extensions[_EXTENSION]
