from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.constants import (
    HOLDER_NAME_LENGTH_MAX,
    IBAN_LENGTH_MAX,
    PAYOUT_ID_LENGTH_MAX,
    PAYOUT_REFERENCE_LENGTH_MAX,
    STRIPE_ACCOUNT_PATTERN,
    SUPPORTED_CURRENCIES,
)
from app.schemas import Id, OptionalId, PageArgsSchema, StrictSchema, page_of
from app.settlement import iban
from app.settlement.models import PAYOUT_METHOD_TYPES, PAYOUT_METHODS, PAYOUT_STATUSES
from app.transparency.schemas import LogPointerSchema

_LOG_DOC = "The signed tree head {} was computed at, and the leaf indexes of {} entries in its tree."


class PayoutCreateSchema(StrictSchema):
    payout_id = ma.fields.String(
        required=True,
        validate=[
            validate.Length(1, PAYOUT_ID_LENGTH_MAX),
            validate.Regexp(r"^[A-Za-z0-9._~:@#+=-]+$", error="Use letters, digits and . _ ~ : @ # + = - only."),
        ],
        metadata={"description": "Your reference for this payout: also its idempotency key, per affiliate."},
    )
    currency = ma.fields.String(required=True, validate=validate.OneOf(SUPPORTED_CURRENCIES))
    reference = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, PAYOUT_REFERENCE_LENGTH_MAX),
        metadata={"description": "The external transfer's reference (bank or Stripe), if any."},
    )


class PayoutSchema(ma.Schema):
    id = Id()
    payout_id = ma.fields.String(
        attribute="payout_key",
        metadata={
            "description": "The operator's payout_id, or one the payouts job chose (`auto-...`, `statement-...`)."
        },
    )
    affiliate_id = OptionalId("affiliate_id", metadata={"description": "The affiliate paid (null: a merchant)."})
    merchant_id = OptionalId("merchant_id", metadata={"description": "The merchant paid (null: an affiliate)."})
    statement_id = OptionalId(
        "statement_id",
        metadata={"description": "The statement a merchant payout pays: what the operator owed the merchant."},
    )
    status = ma.fields.String(
        metadata={
            "description": "`pending` until the money is sent (a Connect transfer, or a bank transfer the "
            "operator marks paid), then `paid`; `failed` when Stripe refused the transfer (its commissions wait "
            "for the next payout)."
        }
    )
    method = ma.fields.String(
        metadata={"description": "`stripe_connect`, `bank_transfer`, or `manual` (recorded by the operator)."}
    )
    currency = ma.fields.String()
    amount_cents = ma.fields.Integer(
        metadata={"description": "What is paid: approved commissions net of adjustments, or the statement's net."}
    )
    commission_count = ma.fields.Integer(metadata={"description": "Commissions (and adjustments) this payout settles."})
    reference = ma.fields.String(allow_none=True)
    stripe_transfer_id = ma.fields.String(allow_none=True, metadata={"description": "The Connect transfer, once made."})
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    paid_at = ma.fields.DateTime(allow_none=True)
    log = ma.fields.Nested(LogPointerSchema, metadata={"description": _LOG_DOC.format("the payout", "its")})


class PayoutArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=validate.OneOf(PAYOUT_STATUSES))
    method = ma.fields.String(validate=validate.OneOf(PAYOUT_METHODS))


class PayoutPaidSchema(StrictSchema):
    reference = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, PAYOUT_REFERENCE_LENGTH_MAX),
        metadata={"description": "The bank transfer's reference, kept on the payout."},
    )


def _holder_name_valid(value: str) -> bool:
    # No control characters, and no leading = + - @: a spreadsheet would run the CSV export's cell.
    return value == value.strip() and value.isprintable() and value[:1] not in "=+-@"


class PayoutMethodChoiceSchema(StrictSchema):
    type = ma.fields.String(required=True, validate=validate.OneOf(PAYOUT_METHOD_TYPES))
    account = ma.fields.String(
        validate=validate.Regexp(STRIPE_ACCOUNT_PATTERN, error="Not a Stripe Connect account id (acct_...)."),
        metadata={"description": "`stripe_connect`: the payee's connected account, `acct_...`."},
    )
    iban = ma.fields.String(
        validate=validate.Length(1, IBAN_LENGTH_MAX * 2),
        metadata={"description": "`bank_transfer`: the payee's IBAN (spaces allowed); its check digits are checked."},
    )
    name = ma.fields.String(
        validate=validate.Length(1, HOLDER_NAME_LENGTH_MAX),
        metadata={"description": "`bank_transfer`: the account holder's name, as the bank knows it."},
    )

    @ma.validates_schema
    def _fields_of_type(self, data, **kwargs):
        needed = {"stripe_connect": ("account",), "bank_transfer": ("iban", "name")}[data["type"]]
        errors = {field: ["Required for this type."] for field in needed if field not in data}
        errors |= {
            field: [f"Not used by {data['type']}."]
            for field in ("account", "iban", "name")
            if field in data and field not in needed
        }
        if "iban" in data and "iban" not in errors and not iban.iban_valid(iban.normalized(data["iban"])):
            errors["iban"] = ["Not a valid IBAN: its check digits do not match."]
        if "name" in data and "name" not in errors and not _holder_name_valid(data["name"]):
            errors["name"] = ["Use printable characters, without surrounding spaces or a leading = + - @."]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def _normalized(self, data, **kwargs):
        if "iban" in data:
            data["iban"] = iban.normalized(data["iban"])
        return data


class PayoutMethodSchema(ma.Schema):
    type = ma.fields.String()
    account = ma.fields.String(attribute="stripe_account", allow_none=True)
    iban = ma.fields.String(allow_none=True)
    name = ma.fields.String(attribute="holder_name", allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


PayoutPageSchema = page_of(PayoutSchema, "PayoutPage")


class PayoutListSchema(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(PayoutSchema), required=True)


class StatementCreateSchema(StrictSchema):
    period_end = ma.fields.AwareDateTime(
        required=True,
        metadata={
            "description": "End of the period (exclusive), with its UTC offset; not in the future. "
            "The period starts where the previous statement ended."
        },
    )


class StatementLineSchema(ma.Schema):
    currency = ma.fields.String()
    points_bought_cents = ma.fields.Integer(metadata={"description": "Points the merchant issued, net of refunds."})
    commissions_cents = ma.fields.Integer(
        metadata={"description": "Approved affiliate commissions, net of adjustments."}
    )
    network_fees_cents = ma.fields.Integer(metadata={"description": "Network fees on those commissions."})
    rewards_supplied_cents = ma.fields.Integer(
        metadata={"description": "Wholesale value of boutique rewards the merchant supplied (the operator owes it)."}
    )
    other_cents = ma.fields.Integer(metadata={"description": "Any other movement (e.g. corrections), signed like net."})
    net_cents = ma.fields.Integer(
        metadata={
            "description": "points_bought + commissions + network_fees - rewards_supplied + other. "
            "Positive: the merchant owes the operator; negative: the reverse."
        }
    )
    entry_ids = ma.fields.Function(
        lambda line: [str(entry_id) for entry_id in line.entry_ids],
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "The ledger entries of the period in this currency that the amounts sum, ascending "
            "(`collection` and `payout` entries settle earlier statements and are not in them).",
        },
    )


class LiabilitySchema(ma.Schema):
    points_outstanding = ma.fields.Integer(metadata={"description": "Points of open lots the merchant issued."})
    value_cents = ma.fields.Integer(metadata={"description": "What was paid for those points (their lots' value)."})
    collected_cents = ma.fields.Integer(
        metadata={
            "description": "The part of value_cents earned in a settled statement period: its collection "
            "succeeded, or its net was zero or less."
        }
    )
    coverage_bp = ma.fields.Integer(
        metadata={"description": "collected_cents * 10000 // value_cents, in basis points (10000 when value is 0)."}
    )


class CollectionSummarySchema(ma.Schema):
    status = ma.fields.String(
        metadata={
            "description": "`pending` until Stripe collects the net, then `succeeded`; `failed` after a declined "
            "attempt (retried while dunning lasts); `not_needed` when the net is zero or owed to the merchant."
        }
    )
    stripe_payment_intent_id = ma.fields.String(allow_none=True, metadata={"description": "The latest attempt."})
    amount_cents = ma.fields.Integer(metadata={"description": "What is collected: the net in the merchant's currency."})


class StatementPayoutSchema(ma.Schema):
    payout_id = Id(metadata={"description": "The payout (GET /v1/payouts/{id} for the operator)."})
    status = ma.fields.String(metadata={"description": "`pending`, `paid` or `failed` (the operator retries)."})
    method = ma.fields.String()
    amount_cents = ma.fields.Integer(metadata={"description": "What is paid: the statement's net, turned positive."})
    paid_at = ma.fields.DateTime(allow_none=True)


class StatementSchema(ma.Schema):
    id = Id()
    merchant_id = ma.fields.Function(lambda s: str(s.merchant_id))
    period_start = ma.fields.DateTime()
    period_end = ma.fields.DateTime()
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema), metadata={"description": "One line per currency."})
    created_at = ma.fields.DateTime()
    final = ma.fields.Boolean(
        metadata={"description": "The merchant's final statement: closed when it left the coalition."}
    )
    liability = ma.fields.Nested(
        LiabilitySchema,
        allow_none=True,
        metadata={
            "description": "On a final statement, the merchant's points still outstanding when it was issued "
            "(as `GET /v1/reports/liability` then showed them, in its currency); null on the others."
        },
    )
    collection = ma.fields.Nested(
        CollectionSummarySchema,
        attribute="collection_summary",
        metadata={"description": "Collecting the net from the merchant through Stripe."},
    )
    payout = ma.fields.Nested(
        StatementPayoutSchema,
        allow_none=True,
        metadata={
            "description": "Paying the merchant a negative net (the `payouts` job, once the operator has set its "
            "payout method); null until a payout is made, and for a net the merchant owes."
        },
    )
    log = ma.fields.Nested(
        LogPointerSchema, metadata={"description": _LOG_DOC.format("the statement", "the") + " Sum them to check it."}
    )


StatementPageSchema = page_of(StatementSchema, "StatementPage")


class CollectionArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        validate=validate.OneOf(["pending", "succeeded", "failed", "not_needed"]),
        metadata={"description": "Only collections in this status (`failed`: what dunning could not collect)."},
    )


class CollectionSchema(ma.Schema):
    id = Id()
    statement_id = ma.fields.Function(lambda c: str(c.statement_id))
    merchant_id = ma.fields.Function(lambda c: str(c.merchant_id))
    status = ma.fields.String()
    amount_cents = ma.fields.Integer(metadata={"description": "The statement's net in its currency."})
    currency = ma.fields.String()
    stripe_payment_intent_id = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "The next try; null when none is left (or none is needed)."}
    )
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


CollectionPageSchema = page_of(CollectionSchema, "CollectionPage")
