"""Money flows in a currency beside the points: commissions, payouts, collections, boutique supply.

Each is one balanced entry with its own kind, ref and idempotency key, so the
application never writes postings itself and ``verify`` sees every flow the
same way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.errors import IdempotencyConflict
from ledger.holds import Payable, post_hold
from ledger.journal import Leg, Posted, post
from ledger.models import Entry, Hold

COMMISSION = "commission"
PAYOUT = "payout"
COLLECTION = "collection"
# Far beyond any real commission or payout: a bigger amount is a bug upstream.
AMOUNT_CENTS_MAX = 10**12


def _check_amount(name: str, amount_cents: int, *, positive: bool = False) -> None:
    if not -AMOUNT_CENTS_MAX <= amount_cents <= AMOUNT_CENTS_MAX:
        raise ValueError(f"{name} out of range: {amount_cents}")
    if positive and amount_cents <= 0:
        raise ValueError(f"{name} must be positive: {amount_cents}")


def post_commission(
    session: Session,
    *,
    commission_id: int,
    merchant_key: str,
    affiliate_key: str,
    currency: str,
    amount_cents: int,
    fee_cents: int,
    idempotency_key: str,
    memo: str,
    now: datetime,
) -> Posted | None:
    """Charge the merchant a commission and the network fee on it.

    EUR ``merchant:m:receivable`` pays ``amount_cents`` to
    ``affiliate:a:payable`` and ``fee_cents`` to ``platform:revenue:fees``.
    Negative amounts (an adjustment after a refund) run the same legs the other
    way. Returns ``None`` and posts nothing when both amounts are zero.
    """
    _check_amount("amount_cents", amount_cents)
    _check_amount("fee_cents", fee_cents)
    if amount_cents == 0 and fee_cents == 0:
        return None
    receivable = accounts.account(session, accounts.receivable_account(merchant_key), currency)
    payable = accounts.account(session, accounts.affiliate_payable_account(affiliate_key), currency)
    fees = accounts.account(session, accounts.REVENUE_FEES, currency)
    return post(
        session,
        kind=COMMISSION,
        legs=[Leg(receivable, -(amount_cents + fee_cents)), Leg(payable, amount_cents), Leg(fees, fee_cents)],
        ref=f"commission:{commission_id}",
        memo=memo,
        now=now,
        idempotency_key=idempotency_key,
    )


def post_payout(
    session: Session, *, affiliate_key: str, payout_key: str, currency: str, amount_cents: int, now: datetime
) -> Posted:
    """Pay an affiliate what it is owed: ``affiliate:a:payable`` -> ``platform:cash``.

    ``payout_key`` is the caller's payout id, unique per affiliate; it makes the
    entry's idempotency key.
    """
    return _pay(
        session,
        payable_name=accounts.affiliate_payable_account(affiliate_key),
        payee=f"affiliate:{affiliate_key}",
        key=f"payout:a{affiliate_key}:{payout_key}",
        payout_key=payout_key,
        currency=currency,
        amount_cents=amount_cents,
        now=now,
    )


def post_merchant_payout(
    session: Session, *, merchant_key: str, payout_key: str, currency: str, amount_cents: int, now: datetime
) -> Posted:
    """Pay a merchant what a statement says the operator owes it (the rewards it
    supplied, net of what it owes): ``merchant:m:payable`` -> ``platform:cash``.

    ``payout_key`` is unique per merchant (e.g. the statement paid); it makes the
    entry's idempotency key.
    """
    return _pay(
        session,
        payable_name=accounts.payable_account(merchant_key),
        payee=f"merchant:{merchant_key}",
        key=f"payout:m{merchant_key}:{payout_key}",
        payout_key=payout_key,
        currency=currency,
        amount_cents=amount_cents,
        now=now,
    )


def _pay(
    session: Session,
    *,
    payable_name: str,
    payee: str,
    key: str,
    payout_key: str,
    currency: str,
    amount_cents: int,
    now: datetime,
) -> Posted:
    _check_amount("amount_cents", amount_cents, positive=True)
    payable = accounts.account(session, payable_name, currency)
    cash = accounts.account(session, accounts.PLATFORM_CASH, currency)
    return post(
        session,
        kind=PAYOUT,
        legs=[Leg(payable, -amount_cents), Leg(cash, amount_cents)],
        ref=f"{payee}:payout:{payout_key}",
        memo=f"Payout {payout_key} to {payee.replace(':', ' ')}",
        now=now,
        idempotency_key=key,
    )


def post_collection(
    session: Session, *, merchant_key: str, currency: str, amount_cents: int, collection_key: str, now: datetime
) -> Posted:
    """Record money collected from a merchant: ``platform:cash`` -> ``merchant:m:receivable``.

    The receivable is negative while the merchant owes; the collection raises it
    by ``amount_cents`` towards zero, and ``platform:cash`` (positive for money
    paid out) goes down by the same amount. ``collection_key`` (unique per
    merchant, e.g. the statement collected) makes the idempotency key: a second
    call with it returns the first entry and posts nothing; with another amount
    or currency it raises ``IdempotencyConflict``.
    """
    _check_amount("amount_cents", amount_cents, positive=True)
    key = f"collection:m{merchant_key}:{collection_key}"
    ref = f"merchant:{merchant_key}:collection:{collection_key}"
    existing = session.execute(select(Entry).where(Entry.idempotency_key == key)).scalar_one_or_none()
    if existing is not None:
        if (
            existing.kind != COLLECTION
            or existing.ref != ref
            or existing.memo != _collection_memo(collection_key, merchant_key, currency, amount_cents)
        ):
            raise IdempotencyConflict(key)
        return Posted(existing.id)
    receivable = accounts.account(session, accounts.receivable_account(merchant_key), currency)
    cash = accounts.account(session, accounts.PLATFORM_CASH, currency)
    return post(
        session,
        kind=COLLECTION,
        legs=[Leg(cash, -amount_cents), Leg(receivable, amount_cents)],
        ref=ref,
        memo=_collection_memo(collection_key, merchant_key, currency, amount_cents),
        now=now,
        idempotency_key=key,
    )


def _collection_memo(collection_key: str, merchant_key: str, currency: str, amount_cents: int) -> str:
    # The memo carries the amount, so a replay with another amount is caught without reading postings.
    return f"Collection {collection_key} from merchant {merchant_key}: {amount_cents} {currency}"


def post_redemption(
    session: Session,
    hold_id: int,
    *,
    supplier_key: str,
    currency: str,
    wholesale_value_cents: int,
    now: datetime,
) -> Hold:
    """Spend a boutique hold: the points go to ``boutique:redeemed``, their value
    leaves the float, the supplying merchant is owed ``wholesale_value_cents``
    (``merchant:s:payable``) and ``platform:revenue:margin`` keeps the difference.
    """
    _check_amount("wholesale_value_cents", wholesale_value_cents)
    return post_hold(
        session,
        hold_id,
        now=now,
        destination=accounts.BOUTIQUE_REDEEMED,
        value_account=accounts.REVENUE_MARGIN,
        payable=Payable(accounts.payable_account(supplier_key), currency, wholesale_value_cents),
    )


def lock_member(session: Session, member_key: str) -> None:
    """Take the member's lock for the rest of the transaction (created on first use).

    Every points flow takes it first; a caller that must decide something about
    the member before the flow (one redemption at a time) takes it earlier.
    """
    accounts.lock(session, accounts.member(session, member_key))


CARD_PAYMENT = "card_payment"
CARD_VOUCHER_ISSUE = "card_voucher_issue"
CARD_VOUCHER_REDEEM = "card_voucher_redeem"


def post_card_payment(
    session: Session, *, member_key: str, payment_key: str, currency: str, amount_cents: int, now: datetime
) -> Posted:
    """Record a paid loyalty card subscription's payment: ``platform:cash`` ->
    ``platform:revenue:cards``, money in as ``post_collection`` books it.

    ``payment_key`` is Stripe's id of what was paid (an invoice), once for the
    whole ledger: a second call with it returns the first entry; with another
    member, amount or currency it raises ``IdempotencyConflict``.
    """
    _check_amount("amount_cents", amount_cents, positive=True)
    cash = accounts.account(session, accounts.PLATFORM_CASH, currency)
    revenue = accounts.account(session, accounts.REVENUE_CARDS, currency)
    return _post_once(
        session,
        kind=CARD_PAYMENT,
        legs=[Leg(cash, -amount_cents), Leg(revenue, amount_cents)],
        key=f"card-payment:{payment_key}",
        ref=f"member:{member_key}:card-payment:{payment_key}",
        memo=f"Card payment {payment_key} by member {member_key}: {amount_cents} {currency}",
        now=now,
    )


def post_card_voucher_issue(
    session: Session, *, member_key: str, voucher_key: str, currency: str, value_cents: int, now: datetime
) -> Posted:
    """Fund a card voucher out of card revenue: ``platform:revenue:cards`` ->
    ``platform:card_vouchers`` (what the operator owes whoever accepts it), once
    per ``voucher_key``."""
    _check_amount("value_cents", value_cents, positive=True)
    revenue = accounts.account(session, accounts.REVENUE_CARDS, currency)
    vouchers = accounts.account(session, accounts.CARD_VOUCHERS, currency)
    return _post_once(
        session,
        kind=CARD_VOUCHER_ISSUE,
        legs=[Leg(revenue, -value_cents), Leg(vouchers, value_cents)],
        key=f"card-voucher-issue:{voucher_key}",
        ref=f"member:{member_key}:card-voucher:{voucher_key}",
        memo=f"Card voucher {voucher_key} for member {member_key}: {value_cents} {currency}",
        now=now,
    )


def post_card_voucher_redemption(
    session: Session, *, merchant_key: str, voucher_key: str, currency: str, value_cents: int, now: datetime
) -> Posted:
    """A coalition merchant accepted a card voucher: ``platform:card_vouchers`` ->
    ``merchant:m:payable`` (the operator now owes the merchant its value), once
    per ``voucher_key``."""
    _check_amount("value_cents", value_cents, positive=True)
    vouchers = accounts.account(session, accounts.CARD_VOUCHERS, currency)
    payable = accounts.account(session, accounts.payable_account(merchant_key), currency)
    return _post_once(
        session,
        kind=CARD_VOUCHER_REDEEM,
        legs=[Leg(vouchers, -value_cents), Leg(payable, value_cents)],
        key=f"card-voucher-redeem:{voucher_key}",
        ref=f"merchant:{merchant_key}:card-voucher:{voucher_key}",
        memo=f"Card voucher {voucher_key} redeemed at merchant {merchant_key}: {value_cents} {currency}",
        now=now,
    )


def _post_once(session: Session, *, kind: str, legs: list[Leg], key: str, ref: str, memo: str, now: datetime) -> Posted:
    # The memo carries the amount and the parties, so a replay that differs is caught without reading postings.
    existing = session.execute(select(Entry).where(Entry.idempotency_key == key)).scalar_one_or_none()
    if existing is not None:
        if existing.kind != kind or existing.ref != ref or existing.memo != memo:
            raise IdempotencyConflict(key)
        return Posted(existing.id)
    return post(session, kind=kind, legs=legs, ref=ref, memo=memo, now=now, idempotency_key=key)


CARD_VOUCHER_LAPSE = "card_voucher_lapse"


def post_card_voucher_lapse(
    session: Session, *, member_key: str, voucher_key: str, currency: str, value_cents: int, now: datetime
) -> Posted:
    """A card voucher expired unused: its value goes back from ``platform:card_vouchers``
    to ``platform:revenue:cards`` (the card's breakage), once per ``voucher_key``."""
    _check_amount("value_cents", value_cents, positive=True)
    vouchers = accounts.account(session, accounts.CARD_VOUCHERS, currency)
    revenue = accounts.account(session, accounts.REVENUE_CARDS, currency)
    return _post_once(
        session,
        kind=CARD_VOUCHER_LAPSE,
        legs=[Leg(vouchers, -value_cents), Leg(revenue, value_cents)],
        key=f"card-voucher-lapse:{voucher_key}",
        ref=f"member:{member_key}:card-voucher:{voucher_key}:lapse",
        memo=f"Card voucher {voucher_key} of member {member_key} expired unused: {value_cents} {currency}",
        now=now,
    )
