"""A bulk loader of a valid points journal on PostgreSQL, for benchmarks.

``load_earns`` appends ``count`` earn entries in a few set-based statements
(``INSERT ... SELECT generate_series(...)``) and leaves the database exactly as
that many calls of ``ledger.earn`` would (each one a first earn without debt,
at a price that divides evenly), so ``ledger verify`` passes on it:

- new members: a ``members`` row each (``bulk-<tag>-<n>@bench.example``), known
  to one merchant (``merchant_members``), and their points account
  ``member:<id>`` (PTS, never negative, one balance shard), as
  ``ledger.accounts.member`` creates it;
- per entry (kind ``earn``, ref ``order:<issuer>:<tag>-<n>``, a unique
  idempotency key), the four postings of ``ledger.earn``: the issuer's
  ``merchant:<issuer>:issued`` -points, the member +points, the issuer's
  ``merchant:<issuer>:receivable`` -value, ``platform:points_float`` +value
  (value = points x price / 1000, exact: points are even and the price is 500);
- per entry one open lot of those points and that value, expiring ten years
  after the entry, so none falls due unless a bench makes some;
- the stored running balances: each account's shard 0 moves by the sum of its
  new postings (one ``UPDATE ... FROM (SELECT ... GROUP BY account_id)``).

Issuers are merchants' ledger keys (``str(merchant id)``); their accounts are
created by ``ledger.accounts.account`` itself (with the hot accounts' shards).
Every issuer's entries are dated in the months before ``month_start``: a bigger
journal is a longer history, not a busier month, so the statement month holds
only what the bench records there itself, through the real order path. Entries
are not sealed: the caller runs ``ledger.seal``, the real sealer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

import ledger
from ledger import accounts

PRICE_PER_1000_POINTS_CENTS = 500
ENTRIES_PER_MEMBER = 10
LOAD_CHUNK = 50_000  # entries per set of statements
SPAN_DAYS = 720
LOT_LIFETIME_DAYS = 3650

SQL_MEMBERS = """
INSERT INTO members (email, created_at)
SELECT 'bulk-' || :tag || '-' || g || '@bench.example', now() FROM generate_series(1, :count) AS g
RETURNING id
"""
SQL_MEMBER_ACCOUNTS = """
INSERT INTO ledger_accounts (name, asset, non_negative, shards, created_at)
SELECT 'member:' || id, 'PTS', true, 1, now() FROM unnest(CAST(:ids AS bigint[])) AS id
RETURNING id
"""
SQL_MEMBER_BALANCES = """
INSERT INTO ledger_balances (account_id, shard, balance, pending)
SELECT id, 0, 0, 0 FROM unnest(CAST(:ids AS bigint[])) AS id
"""
SQL_MERCHANT_MEMBERS = """
INSERT INTO merchant_members (merchant_id, member_id, first_order_at)
SELECT :merchant, id, now() FROM unnest(CAST(:ids AS bigint[])) AS id
"""
SQL_EARNS = """
WITH src AS (
    SELECT g,
           (CAST(:members AS bigint[]))[1 + (g - 1) % :member_count] AS member,
           g % :issuer_count AS i,
           2 * (5 + g % 45) AS pts
    FROM generate_series(1, :count) AS g
), plan AS (
    SELECT g, member, pts, pts * :price / 1000 AS val,
           (CAST(:keys AS text[]))[i + 1] AS issuer,
           (CAST(:issued AS bigint[]))[i + 1] AS issued,
           (CAST(:funding AS bigint[]))[i + 1] AS funding,
           CAST(:month_start AS timestamptz) - make_interval(secs => 60 + (g * 7919) % :span_s) AS at
    FROM src
), e AS (
    INSERT INTO ledger_entries (kind, idempotency_key, ref, memo, created_at)
    SELECT 'earn', :tag || ':' || g, 'order:' || issuer || ':' || :tag || '-' || g, 'Bench order ' || g, at
    FROM plan
    RETURNING id, idempotency_key
), j AS (
    SELECT e.id, plan.* FROM e JOIN plan ON e.idempotency_key = :tag || ':' || plan.g
), p AS (
    INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
    SELECT id, issued, 'PTS', -pts FROM j
    UNION ALL SELECT id, member, 'PTS', pts FROM j
    UNION ALL SELECT id, funding, 'EUR', -val FROM j
    UNION ALL SELECT id, :float, 'EUR', val FROM j
)
INSERT INTO ledger_lots (member_account_id, issuer, currency, price_per_1000_points_cents, points,
                         points_remaining, value, value_remaining, points_expired, value_expired,
                         earned_at, expires_at, entry_id, incoming_until)
SELECT member, issuer, 'EUR', :price, pts, pts, val, val, 0, 0, at, at + make_interval(days => :lifetime), id, NULL
FROM j
"""
SQL_BALANCES = """
UPDATE ledger_balances AS b SET balance = b.balance + d.total
FROM (SELECT account_id, SUM(amount) AS total FROM ledger_postings WHERE entry_id > :after GROUP BY account_id) AS d
WHERE b.account_id = d.account_id AND b.shard = 0
"""


@dataclass(frozen=True)
class Issuers:
    keys: list[str]
    issued: list[int]
    funding: list[int]
    points_float: int


def issuers(session: Session, keys: list[str], currency: str = "EUR") -> Issuers:
    """The ledger accounts an earn of each issuer posts to, created as ``ledger.earn`` creates them."""
    issued = [accounts.account(session, accounts.issued_account(k), ledger.PTS).id for k in keys]
    funding = [accounts.account(session, accounts.funding_account(k), currency).id for k in keys]
    points_float = accounts.account(session, accounts.POINTS_FLOAT, currency).id
    session.commit()
    return Issuers(keys, issued, funding, points_float)


def load_earns(
    session: Session,
    to: Issuers,
    merchant_id: int,
    count: int,
    *,
    tag: str,
    now: datetime,
    month_start: datetime,
) -> None:
    """Append ``count`` earns (committed) for new members, ENTRIES_PER_MEMBER each, in chunks of LOAD_CHUNK."""
    part = 0
    while count > 0:
        chunk = min(count, LOAD_CHUNK)
        _load_chunk(session, to, merchant_id, chunk, f"{tag}x{part}", now, month_start)
        session.commit()
        count -= chunk
        part += 1


def _load_chunk(
    session: Session, to: Issuers, merchant_id: int, count: int, tag: str, now: datetime, month_start: datetime
) -> None:
    member_count = max(1, -(-count // ENTRIES_PER_MEMBER))
    member_ids = session.execute(text(SQL_MEMBERS), {"tag": tag, "count": member_count}).scalars().all()
    account_ids = session.execute(text(SQL_MEMBER_ACCOUNTS), {"ids": list(member_ids)}).scalars().all()
    session.execute(text(SQL_MEMBER_BALANCES), {"ids": list(account_ids)})
    session.execute(text(SQL_MERCHANT_MEMBERS), {"merchant": merchant_id, "ids": list(member_ids)})
    after = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM ledger_entries")).scalar_one()
    session.execute(
        text(SQL_EARNS),
        {
            "members": list(account_ids),
            "member_count": len(account_ids),
            "issuer_count": len(to.keys),
            "count": count,
            "price": PRICE_PER_1000_POINTS_CENTS,
            "keys": to.keys,
            "issued": to.issued,
            "funding": to.funding,
            "float": to.points_float,
            "month_start": month_start,
            "now": now,
            "span_s": SPAN_DAYS * 86400,
            "tag": tag,
            "lifetime": LOT_LIFETIME_DAYS,
        },
    )
    session.execute(text(SQL_BALANCES), {"after": after})
