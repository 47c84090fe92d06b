"""The typed answers of every call, built by one strict builder (``partner_sdk._build``).

Every answer keeps the platform's JSON in ``raw`` (not compared, not shown), so
fields a newer platform adds stay reachable before the SDK names them. A field
missing from the answer, or of another type, raises ``UnexpectedAnswer`` naming
it. Ids are strings; times are ISO 8601 strings in UTC; money is integer cents.

The answer of a create has ``replayed``: True when the platform answered 200
with the answer of an earlier identical call (same natural key or
Idempotency-Key), False when it created something (201) and on every other
call. It is not compared: a replay equals the answer it repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from partner_sdk._build import WHOLE, Answer, renamed

__all__ = [
    "Application",
    "Bonus",
    "Campaign",
    "EarnGroup",
    "OrderPreview",
    "PreviewBonus",
    "AttributionError",
    "CatalogItem",
    "CodesAdded",
    "Commission",
    "Collection",
    "CommissionBrief",
    "ConsistencyProof",
    "CreatedCatalogItem",
    "CreatedWebhookEndpoint",
    "EntryProof",
    "Lead",
    "LogPointer",
    "LedgerEntry",
    "LedgerPosting",
    "Liability",
    "Link",
    "LogEntry",
    "Member",
    "OrderResult",
    "Payout",
    "Program",
    "PublicKey",
    "Redemption",
    "RefundResult",
    "Report",
    "ReportRow",
    "Statement",
    "StatementLine",
    "TreeHead",
    "VoucherRedemption",
    "WebhookAttempt",
    "WebhookEndpoint",
]


@dataclass(frozen=True)
class CommissionBrief(Answer):
    """The commission an order or a lead earned, as the order's answer shows it."""

    id: str
    status: str
    amount_cents: int
    currency: str
    affiliate_id: str
    suspicious: bool
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class OrderResult(Answer):
    """An order as recorded by the platform.

    `commission` is the affiliate commission the order's click token earned,
    None without a token or when it earned nothing (`attribution_error` says why).
    """

    order_id: str
    member_id: str
    amount_cents: int
    net_amount_cents: int
    currency: str
    points_earned: int
    points_net: int
    bonuses: list[Bonus]
    points_total: int
    points_available_at: str | None
    points_balance: int | None
    points_available: int | None
    points_incoming: int | None
    commission: CommissionBrief | None
    attribution_error: str | None
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Bonus(Answer):
    """A campaign bonus, or the tier or card extra, an order earned (`campaign_id` None for the extras)."""

    campaign_id: str | None
    source: str
    name: str
    points: int
    points_net: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PreviewBonus(Answer):
    """A bonus an order would earn now."""

    campaign_id: str | None
    source: str
    name: str
    points: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class EarnGroup(Answer):
    """One rate group of an order: the base group (`category` None), a category at its own rate, or excluded."""

    category: str | None
    amount_cents: int
    excluded: bool
    points_per_block: int
    per_amount_cents: int | None
    points: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class OrderPreview(Answer):
    """What an order would earn now, and why; nothing was recorded."""

    points_base: int
    groups: list[EarnGroup]
    bonuses: list[PreviewBonus]
    points_total: int
    points_available_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RefundResult(Answer):
    """A refund as recorded by the platform."""

    refund_id: str
    order_id: str
    amount_cents: int
    order_net_amount_cents: int
    points_reversed: int
    points_to_debt: int
    points_balance: int | None
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Member(Answer):
    """A loyalty member and their point balances."""

    id: str
    email: str
    points_balance: int
    points_held: int
    points_available: int
    points_debt: int
    points_incoming: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Lead(Answer):
    """A reported lead; `commission` is None when the click earned nothing (see `attribution_error`)."""

    lead_id: str
    commission: CommissionBrief | None
    attribution_error: str | None
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Commission(Answer):
    """An affiliate's commission on one of your orders or leads; `payout_id` once it is paid."""

    id: str
    kind: str
    status: str
    amount_cents: int
    base_amount_cents: int
    fee_cents: int
    currency: str
    program_id: str
    affiliate_id: str
    link_id: str | None
    order_id: str | None
    lead_id: str | None
    adjusts_commission_id: str | None
    suspicious: bool
    reason: str | None
    clicked_at: str | None
    hold_until: str
    decided_at: str | None
    created_at: str
    payout_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class AttributionError(Answer):
    """A click token sent with an order or a lead that earned no commission, and why (`code`)."""

    id: str
    code: str
    order_id: str | None
    lead_id: str | None
    program_id: str | None
    affiliate_id: str | None
    created_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class WebhookEndpoint(Answer):
    """A URL the platform POSTs your chosen events to."""

    id: str
    url: str
    events: list[str]
    enabled: bool
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CreatedWebhookEndpoint(Answer):
    """An endpoint with its signing secret: the only time the platform shows it."""

    endpoint: WebhookEndpoint = field(metadata=WHOLE)
    secret: str = field(repr=False)
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class WebhookAttempt(Answer):
    """One logged POST of an event to an endpoint."""

    id: str
    event_id: str
    event_type: str
    number: int
    outcome: str
    started_at: str
    status_code: int | None
    duration_ms: int | None
    error: str | None
    next_attempt_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Program(Answer):
    """An affiliate program: its commission rule (`commission`), hold and attribution window."""

    id: str
    merchant_id: str
    name: str
    active: bool
    commission: dict[str, Any]
    lead_amount_cents: int | None
    cap_cents: int | None
    network_fee_bps: int
    hold_days: int
    attribution_window_days: int
    auto_approve_affiliates: bool
    created_at: str
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Application(Answer):
    """An affiliate's application to a program: pending, approved or refused."""

    id: str
    program_id: str
    affiliate_id: str
    affiliate_name: str
    affiliate_website: str
    status: str
    created_at: str
    decided_at: str | None
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Link(Answer):
    """A tracking link: share `url`; it redirects to `landing_url` with a click token."""

    id: str
    code: str
    url: str
    program_id: str
    landing_url: str
    active: bool
    created_at: str
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CatalogItem(Answer):
    """A reward you supply to the boutique (physical goods or vouchers)."""

    id: str
    kind: str
    title: str
    description: str
    category: str
    image_url: str | None
    points_price: int
    wholesale_value_cents: int
    currency: str
    stock: int
    active: bool
    active_from: str | None
    active_until: str | None
    created_at: str
    updated_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CreatedCatalogItem(Answer):
    """A new item and the voucher codes the platform generated for it (shown only here)."""

    item: CatalogItem = field(metadata=WHOLE)
    generated_codes: list[str] = field(repr=False)
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CodesAdded(Answer):
    """Voucher codes added to an item; `generated_codes` are shown only here."""

    added: int
    stock: int
    generated_codes: list[str] = field(repr=False)
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Redemption(Answer):
    """A member's redemption of one of your rewards: placed, fulfilled, cancelled or expired.

    `shipping_address` is empty for vouchers.
    """

    id: str
    item_id: str
    kind: str
    title: str
    status: str
    points: int
    wholesale_value_cents: int
    currency: str
    shipping_address: str
    voucher_code: str | None
    tracking_reference: str | None
    cancel_reason: str | None
    created_at: str
    expires_at: str
    resolved_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class VoucherRedemption(Answer):
    """A voucher code accepted at your checkout (it cannot be used again)."""

    code: str
    item_id: str
    redemption_id: str
    title: str
    used_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ReportRow(Answer):
    """One row of an affiliate report: a day, a program or a link (`key`), in one currency."""

    key: str
    currency: str
    clicks: int
    unique_clicks: int
    orders: int
    leads: int
    conversion_rate: float
    commission_pending_cents: int
    commission_approved_cents: int
    commission_rejected_cents: int
    commission_paid_cents: int
    earnings_per_click_cents: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Report(Answer):
    """An affiliate report from `from_date` to `to_date`, grouped by day, program or link."""

    from_date: str = field(metadata=renamed("from"))
    to_date: str = field(metadata=renamed("to"))
    group_by: str = field()
    rows: list[ReportRow] = field()
    totals: list[ReportRow] = field()
    log: LogPointer
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Payout(Answer):
    """A payment of the operator to you: approved commissions net of adjustments, in one
    currency. `status` is `pending` until the money is sent (`paid_at`), or `failed`
    when Stripe refused the transfer; `method` is `stripe_connect`, `bank_transfer` or
    `manual`. An affiliate's payouts carry its `affiliate_id` (and no `merchant_id`)."""

    id: str
    payout_id: str
    affiliate_id: str | None
    merchant_id: str | None
    statement_id: str | None
    status: str
    method: str
    currency: str
    amount_cents: int
    commission_count: int
    reference: str | None
    stripe_transfer_id: str | None
    last_error: str | None
    created_at: str
    paid_at: str | None
    log: LogPointer
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class StatementLine(Answer):
    """One currency of a statement; a positive `net_cents` is what you owe the operator."""

    currency: str
    points_bought_cents: int
    commissions_cents: int
    network_fees_cents: int
    rewards_supplied_cents: int
    other_cents: int
    net_cents: int
    # The ledger entries the amounts sum, ascending: `statement_csv` shows them one by one.
    entry_ids: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Liability(Answer):
    """On a final statement: your points still outstanding when it was issued, their
    value, the part of it backed by money collected, and that part in basis points."""

    points_outstanding: int
    value_cents: int
    collected_cents: int
    coverage_bp: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Collection(Answer):
    """How the operator collects a statement's net: `status` is not_needed, pending,
    succeeded or failed; the Stripe PaymentIntent once there is one."""

    status: str
    stripe_payment_intent_id: str | None
    amount_cents: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class StatementPayout(Answer):
    """The operator paying you a statement's negative net: `status` is pending, paid or failed."""

    payout_id: str
    status: str
    method: str
    amount_cents: int
    paid_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Statement(Answer):
    """What you and the operator owe each other for one period (from `period_start`, to `period_end` excluded)."""

    id: str
    merchant_id: str
    period_start: str
    period_end: str
    lines: list[StatementLine]
    created_at: str
    log: LogPointer
    collection: Collection
    # The operator paying you a negative net; None until a payout is made (and when you owe).
    payout: StatementPayout | None
    # True on your final statement, closed when you left the coalition; it then carries `liability`.
    final: bool
    liability: Liability | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class TreeHead(Answer):
    """A signed head of the ledger's transparency log: the root of its first `tree_size` leaves at `timestamp`.

    `timestamp` is Unix milliseconds; `signature` is the base64 Ed25519 signature,
    by the key `key_id`, of ``partner_sdk.transparency.signed_bytes(tree_size,
    timestamp, root_hash)``: check it with ``verify_tree_head``.
    """

    tree_size: int
    root_hash: str
    timestamp: int
    key_id: str
    signature: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class LogPointer(Answer):
    """Where a statement's, a payout's or a report's entries are in the log: the signed
    head they were computed at (None before the log existed) and their leaf indexes."""

    tree_head: TreeHead | None
    leaf_indexes: list[int]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PublicKey(Answer):
    """A key the log signs its tree heads with: the base64 of its 32 raw Ed25519 bytes; `retired_at` once retired."""

    key_id: str
    public_key: str
    retired_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ConsistencyProof(Answer):
    """RFC 9162 PROOF(first, second): the hashes showing the tree of size `second` extends the one of size `first`."""

    first: int
    second: int
    proof: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class LedgerPosting(Answer):
    """One line of a journal entry: a signed `amount` on an account, in points for PTS, in cents for a currency."""

    account: str
    asset: str
    amount: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class LedgerEntry(Answer):
    """A journal entry of the ledger: its postings sum to zero per asset; `reverses_entry_id` when it undoes one."""

    id: str
    kind: str
    ref: str
    memo: str
    created_at: str
    reverses_entry_id: str | None
    postings: list[LedgerPosting]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class LogEntry(Answer):
    """One of your journal entries as a leaf of the log: `canonical` (base64) holds the bytes the leaf hashes."""

    leaf_index: int
    leaf_hash: str
    canonical: str = field(repr=False)
    entry: LedgerEntry = field()
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class EntryProof(Answer):
    """The RFC 9162 inclusion proof (PATH) of one of your entries' leaf in the tree of size `tree_size`."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    canonical: str = field(repr=False)
    entry: LedgerEntry = field()
    proof: list[str] = field()
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Campaign(Answer):
    """A campaign: extra points (`effect`) on orders meeting its `conditions`, within `budget_points`.

    `owner` is merchant (yours, paid at your point price) or operator
    (coalition-wide, `merchant_id` None). `status` is scheduled, active, paused
    or ended; `ended_at` is set only when it was ended before `ends_at`.
    """

    id: str
    owner: str
    merchant_id: str | None
    name: str
    starts_at: str
    ends_at: str
    effect: dict[str, Any]
    conditions: dict[str, Any]
    budget_points: int
    points_awarded: int
    points_remaining: int
    status: str
    created_at: str
    paused_at: str | None
    ended_at: str | None
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Contest(Answer):
    """A contest: `winners_count` prizes of the voucher item `prize["item_id"]`, entries
    between `entries_open_at` and `entries_close_at`, `eligibility` either
    `{"segment_id"}` (existing customers) or `{"free_entry": True}`.

    `seed_commitment` is published at creation; `seed`, `entries_hash`, `winners`,
    `algorithm` and `drawn_at` are None until the draw (`status` drawn).
    """

    id: str
    owner: str
    name: str
    prize: dict[str, Any]
    winners_count: int
    entries_open_at: str
    entries_close_at: str
    eligibility: dict[str, Any]
    status: str
    entries_count: int
    seed_commitment: str
    seed: str | None
    entries_hash: str | None
    winners: list[str] | None
    algorithm: str | None
    drawn_at: str | None
    created_at: str
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ContestEntry(Answer):
    """A member's entry in a contest; `replayed` is True when they had entered already."""

    contest_id: str
    entry_id: str
    member_id: str
    source: str
    created_at: str
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ContestEntrant(Answer):
    """One line of a contest's entry list, in draw order (entry ids ascending)."""

    entry_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ContestDraw(Answer):
    """A contest's draw: check it with `verify_draw` (or `MerchantClient.check_draw`)."""

    seed: str
    seed_commitment: str
    entries_hash: str
    entries_count: int
    winners: list[str]
    algorithm: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Segment(Answer):
    """Members the `rules` hold for: `size`, of them `size_customers` (yours: you may see
    who they are) and `size_others` (counted, never named). `history` is in `raw` when
    read by id."""

    id: str
    name: str
    owner: str
    rules: dict[str, Any]
    size: int
    size_customers: int
    size_others: int
    computed_at: str
    created_at: str
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Offer(Answer):
    """An offer to a segment: `reward` is `{"type": "bonus", "points"}` or `{"type": "voucher", "item_id"}`."""

    id: str
    owner: str
    segment_id: str
    subject: str
    body: str
    reward: dict[str, Any]
    starts_at: str
    ends_at: str
    holdout_bp: int
    status: str
    created_at: str
    prepared_at: str | None
    sent_at: str | None
    replayed: bool = field(compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class OfferReport(Answer):
    """What an offer brought, against its holdout (docs/audience.md, "The report")."""

    offer_id: str
    eligible: int
    sent: int
    held_out: int
    opened: int
    clicked: int
    converted: int
    conversion_rate_bp: int
    holdout_conversion_rate_bp: int
    orders: int
    holdout_orders: int
    incremental_orders: int | None
    incremental_sales_cents: int | None
    points_cost: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Lifecycle(Answer):
    """Your customers' lifecycle figures; the nested figures are dicts as the API gives them."""

    scope: str
    customers: int
    days_to_first_purchase: dict[str, Any]
    repeat_30d: dict[str, Any]
    repeat_90d: dict[str, Any]
    dormant_days: int
    dormant: int
    active: int
    computed_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)
