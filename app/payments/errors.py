"""What a payment provider refuses, or fails to answer, as our own domain errors."""

from __future__ import annotations

from app.errors import DomainError, Invalid


class PaymentProviderError(DomainError):
    """Stripe could not be reached, refused our credentials or failed: nothing the caller can fix."""

    problem = "payment-provider-error"


class WebhookRefused(DomainError):
    """A Stripe webhook whose signature is missing, wrong or too old: it is not from Stripe."""

    problem = "bad-request"


class PaymentMethodDeclined(DomainError):
    """The card's issuer (or the bank) declined the payment method."""

    problem = "payment-method-declined"

    def __init__(self, detail: str, *, code: str | None = None, payment_intent_id: str | None = None):
        super().__init__(detail, errors={"payment_method": [code or "declined"]})
        # The PaymentIntent the declined charge made, when Stripe's error names it.
        self.payment_intent_id = payment_intent_id


class PaymentMethodRefused(Invalid):
    """Stripe refused the payment method itself: unknown, or not usable by this customer."""

    problem = "payment-method-refused"

    def __init__(self, payment_method_id: str, reason: str):
        super().__init__(
            f"Stripe refused the payment method {payment_method_id}: {reason}",
            errors={"payment_method": [reason]},
        )
