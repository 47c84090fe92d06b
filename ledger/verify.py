"""``verify``: prove every ledger rule from the stored data.

Each check is one aggregate query; a violation names its rule (DESIGN §2)
and the rows at fault. Nothing is fixed up: a violation is a bug to study.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from ledger import log, merkle
from ledger.accounts import PLATFORM_EXPIRED, POINTS_FLOAT, PTS, REVENUE_BREAKAGE
from ledger.chain import GENESIS_HASH, check_chain
from ledger.journal import REVERSAL
from ledger.log_check import check_log
from ledger.models import Account, Balance, Debt, Entry, Hold, Lot, Posting, Seal

VIOLATIONS_PER_RULE_MAX = 20


@dataclass(frozen=True)
class Violation:
    rule: int
    name: str
    detail: str

    def __str__(self) -> str:
        return f"rule {self.rule} ({self.name}): {self.detail}"


@dataclass(frozen=True)
class Reached:
    """The chain's last link and the log's tree as a verify found them: a checkpoint to be."""

    seal_seq: int
    seal_hash: str
    tree_size: int
    # The hashes of merkle.range_nodes(0, tree_size): all a later check needs of the older leaves.
    peaks: dict[merkle.Node, str]


@dataclass(frozen=True)
class Report:
    """``entries`` and ``sealed``: the journal's totals (full check), or what an incremental check read."""

    violations: list[Violation]
    entries: int
    sealed: int
    reached: Reached | None = None
    # The checkpoint an incremental check started from (None: a full check).
    since_checkpoint: int | None = None
    # Incremental: per account, the sum of its postings in the entries sealed since the checkpoint.
    moved: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


def reached(session: Session) -> Reached:
    """Where the chain and the tree are now (read first, in the verify's own snapshot)."""
    last = session.execute(select(Seal.seq, Seal.hash).order_by(Seal.seq.desc()).limit(1)).first()
    size = log.tree_size(session)
    peaks = log.stored_hashes(session, merkle.range_nodes(0, size))
    return Reached(last.seq if last else 0, last.hash if last else GENESIS_HASH, size, peaks)


def verify(session: Session) -> Report:
    """Check rules 1 to 8 of the ledger over the whole journal; returns every violation found.

    On PostgreSQL the caller runs it in a REPEATABLE READ transaction, so that every
    check sees the same journal (and ``reached`` is where that journal ends).
    """
    at = reached(session)
    violations: list[Violation] = []
    for check in (
        _entries_balance,
        _assets_sum_to_zero,
        _reversals_mirror,
        _idempotency_keys_unique,
        _members_never_overdrawn,
        _stored_balances_match,
        _lots_match_balances,
        _chain_intact,
        _log_intact,
    ):
        violations.extend(check(session)[:VIOLATIONS_PER_RULE_MAX])
    entries = session.execute(select(func.count(Entry.id))).scalar_one()
    sealed = session.execute(select(func.count(Seal.seq))).scalar_one()
    return Report(violations, entries, sealed, reached=at)


def _entries_balance(session: Session) -> list[Violation]:
    rows = session.execute(
        select(Posting.entry_id, Posting.asset, func.sum(Posting.amount))
        .group_by(Posting.entry_id, Posting.asset)
        .having(func.sum(Posting.amount) != 0)
        .order_by(Posting.entry_id)
        .limit(VIOLATIONS_PER_RULE_MAX)
    ).all()
    out = [Violation(1, "entries balance", f"entry {e} sums to {s} {a}") for e, a, s in rows]
    mismatched = session.execute(
        select(Posting.id, Posting.asset, Account.asset)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.asset != Account.asset)
        .limit(VIOLATIONS_PER_RULE_MAX)
    ).all()
    out += [Violation(1, "entries balance", f"posting {p} in {pa} on a {aa} account") for p, pa, aa in mismatched]
    return out


def _assets_sum_to_zero(session: Session) -> list[Violation]:
    out = []
    for asset, total in session.execute(
        select(Posting.asset, func.sum(Posting.amount)).group_by(Posting.asset).having(func.sum(Posting.amount) != 0)
    ):
        out.append(Violation(2, "assets sum to zero", f"postings in {asset} sum to {total}"))
    for asset, total in session.execute(
        select(Account.asset, func.sum(Balance.balance))
        .join(Balance, Balance.account_id == Account.id)
        .group_by(Account.asset)
        .having(func.sum(Balance.balance) != 0)
    ):
        out.append(Violation(2, "assets sum to zero", f"stored balances in {asset} sum to {total}"))
    return out


def _reversals_mirror(session: Session) -> list[Violation]:
    out = []
    twice = session.execute(
        select(Entry.reverses_entry_id)
        .where(Entry.kind == REVERSAL)
        .group_by(Entry.reverses_entry_id)
        .having(func.count() > 1)
    ).scalars()
    out += [Violation(3, "append-only", f"entry {e} is reversed more than once") for e in twice]
    # A reversal's postings are exactly the negated postings of the entry it reverses.
    for rev_id, original_id in session.execute(select(Entry.id, Entry.reverses_entry_id).where(Entry.kind == REVERSAL)):
        if original_id is None:
            out.append(Violation(3, "append-only", f"reversal {rev_id} does not name the entry it reverses"))
            continue
        mine = _postings_of(session, rev_id, sign=1)
        theirs = _postings_of(session, original_id, sign=-1)
        if mine != theirs:
            out.append(Violation(3, "append-only", f"reversal {rev_id} does not mirror entry {original_id}"))
    dangling = session.execute(
        select(Entry.id).where(Entry.kind == "clawback", Entry.reverses_entry_id.is_(None))
    ).scalars()
    out += [Violation(3, "append-only", f"clawback {e} does not name the entry it reverses") for e in dangling]
    return out


def _postings_of(session: Session, entry_id: int, *, sign: int) -> list[tuple[int, int]]:
    rows = session.execute(select(Posting.account_id, Posting.amount).where(Posting.entry_id == entry_id))
    return sorted((account_id, sign * amount) for account_id, amount in rows)


def _idempotency_keys_unique(session: Session) -> list[Violation]:
    rows = session.execute(
        select(Entry.idempotency_key)
        .where(Entry.idempotency_key.is_not(None))
        .group_by(Entry.idempotency_key)
        .having(func.count() > 1)
    ).scalars()
    return [Violation(4, "idempotency", f"key {k!r} has more than one entry") for k in rows]


def _members_never_overdrawn(session: Session) -> list[Violation]:
    out = []
    rows = session.execute(
        select(Account.name, Balance.balance, Balance.pending)
        .join(Balance, Balance.account_id == Account.id)
        .where(Account.non_negative.is_(True))
        .where((Balance.balance < 0) | (Balance.pending < 0) | (Balance.balance - Balance.pending < 0))
    ).all()
    out += [Violation(5, "available never negative", f"{n}: balance {b}, pending {p}") for n, b, p in rows]
    held = select(Hold.account_id, func.sum(Hold.points)).where(Hold.status == "pending").group_by(Hold.account_id)
    rows = _members_disagreeing(session, Balance.pending, held)
    out += [Violation(5, "available never negative", f"{n}: pending {p} but holds sum to {h}") for n, p, h in rows]
    return out


def _members_disagreeing(session: Session, stored, per_account_total) -> list:
    """Member accounts whose ``stored`` column differs from a per-account total
    (``per_account_total`` selects account id and total): (name, stored, total)."""
    totals = per_account_total.subquery()
    account_id, total = totals.c
    return list(
        session.execute(
            select(Account.name, stored, func.coalesce(total, 0))
            .join(Balance, Balance.account_id == Account.id)
            .outerjoin(totals, account_id == Account.id)
            .where(Account.non_negative.is_(True), stored != func.coalesce(total, 0))
        ).all()
    )


def _stored_balances_match(session: Session) -> list[Violation]:
    posted = select(Posting.account_id, func.sum(Posting.amount).label("total")).group_by(Posting.account_id).subquery()
    stored = (
        select(Balance.account_id, func.sum(Balance.balance).label("total")).group_by(Balance.account_id).subquery()
    )
    rows = session.execute(
        select(Account.name, Account.asset, func.coalesce(stored.c.total, 0), func.coalesce(posted.c.total, 0))
        .outerjoin(stored, stored.c.account_id == Account.id)
        .outerjoin(posted, posted.c.account_id == Account.id)
        .where(func.coalesce(stored.c.total, 0) != func.coalesce(posted.c.total, 0))
    ).all()
    return [Violation(6, "stored balances", f"{n} {a}: stored {s}, postings sum to {p}") for n, a, s, p in rows]


def _lots_match_balances(session: Session) -> list[Violation]:
    out = []
    lots = (
        select(Lot.member_account_id, func.sum(Lot.points_remaining))
        .where(Lot.incoming_until.is_(None))
        .group_by(Lot.member_account_id)
    )
    rows = _members_disagreeing(session, Balance.balance, lots)
    out += [Violation(7, "lots", f"{n}: balance {b}, open lots hold {p}") for n, b, p in rows]
    out += _incoming_match_lots(session)
    bad = session.execute(
        select(Lot.id).where(
            (Lot.points_remaining < 0)
            | (Lot.points_remaining > Lot.points)
            | (Lot.value_remaining_cents < 0)
            | (Lot.value_remaining_cents > Lot.value_cents)
            | and_(Lot.points_remaining == 0, Lot.value_remaining_cents != 0)
            | (Lot.points_expired < 0)
            | (Lot.points_remaining + Lot.points_expired > Lot.points)
            | (Lot.value_expired_cents < 0)
            | (Lot.value_remaining_cents + Lot.value_expired_cents > Lot.value_cents)
            | and_(Lot.points_expired == 0, Lot.value_expired_cents != 0)
        )
    ).scalars()
    out += [Violation(7, "lots", f"lot {i} has remaining or expired points or value out of range") for i in bad]
    # What the lots say is still unspent or expired must be exactly what these accounts hold.
    out += _account_equals_lots(
        session, POINTS_FLOAT, select(Lot.currency, func.sum(Lot.value_remaining_cents)).group_by(Lot.currency)
    )
    out += _account_equals_lots(
        session, REVENUE_BREAKAGE, select(Lot.currency, func.sum(Lot.value_expired_cents)).group_by(Lot.currency)
    )
    out += _account_equals_lots(session, PLATFORM_EXPIRED, select(literal(PTS), func.sum(Lot.points_expired)))
    debts = dict(
        session.execute(
            select(Account.name, func.sum(Debt.points_remaining))
            .join(Account, Account.id == Debt.member_account_id)
            .group_by(Account.name)
        ).all()
    )
    debt_balances = dict(
        session.execute(
            select(Account.name, func.sum(Balance.balance))
            .join(Balance, Balance.account_id == Account.id)
            .where(Account.name.like("member:%:debt"))
            .group_by(Account.name)
        ).all()
    )
    for member_name in sorted(set(debts) | {n.removesuffix(":debt") for n in debt_balances}):
        owed = int(debts.get(member_name) or 0)
        booked = -int(debt_balances.get(member_name + ":debt") or 0)
        if owed != booked:
            out.append(Violation(7, "lots", f"{member_name}: debt records {owed}, debt account {booked}"))
    return out


def _incoming_match_lots(session: Session) -> list[Violation]:
    """Each ``member:{id}:incoming`` account holds exactly its member's incoming lots."""
    lots = dict(
        session.execute(
            select(Account.name, func.sum(Lot.points_remaining))
            .join(Account, Account.id == Lot.member_account_id)
            .where(Lot.incoming_until.is_not(None))
            .group_by(Account.name)
        ).all()
    )
    booked = dict(
        session.execute(
            select(Account.name, func.sum(Balance.balance))
            .join(Balance, Balance.account_id == Account.id)
            .where(Account.name.like("member:%:incoming"))
            .group_by(Account.name)
        ).all()
    )
    out = []
    for member_name in sorted(set(lots) | {n.removesuffix(":incoming") for n in booked}):
        want = int(lots.get(member_name) or 0)
        held = int(booked.get(member_name + ":incoming") or 0)
        if want != held:
            out.append(Violation(7, "lots", f"{member_name}: incoming lots hold {want}, incoming account {held}"))
    return out


def _account_equals_lots(session: Session, name: str, lot_totals) -> list[Violation]:
    """``name``'s balance per asset against a per-asset total over all lots."""
    expected = {asset: int(total or 0) for asset, total in session.execute(lot_totals)}
    held = {
        asset: int(total or 0)
        for asset, total in session.execute(
            select(Account.asset, func.sum(Balance.balance))
            .join(Balance, Balance.account_id == Account.id)
            .where(Account.name == name)
            .group_by(Account.asset)
        )
    }
    return [
        Violation(7, "lots", f"{name} {asset} is {held.get(asset, 0)}, lots say {expected.get(asset, 0)}")
        for asset in sorted(set(expected) | set(held))
        if held.get(asset, 0) != expected.get(asset, 0)
    ]


def _chain_intact(session: Session) -> list[Violation]:
    return [Violation(8, "hash chain", problem) for problem in check_chain(session)]


def _log_intact(session: Session) -> list[Violation]:
    return [Violation(8, "transparency log", problem) for problem in check_log(session)]
