"""Stateful property test of the points ledger against a pure-Python model.

Random sequences of earn, clawback (refund), holds (place, post in full or in
part, void, replay), expiry of lots and holds, sealing and a simulated clock
run against a real database (SQLite, or PostgreSQL with
LOYALTY_TEST_DATABASE=postgresql). After every step each member's balance,
pending and debt, their lots, debts and holds row by row, and the issuers'
accounts must equal the model's, and ``ledger.verify`` must find nothing.

The model keeps each member's lots oldest first with their expiry and value,
the debts per currency, and the holds; it knows nothing of the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from ledger import accounts
from ledger.models import Account, Balance, Debt, Hold, Lot
from tests.conftest import make_app

MEMBERS = 3
DAY = timedelta(days=1)
# Examples share one database; each starts well after everything earlier ones did.
GAP_BETWEEN_EXAMPLES = timedelta(days=60)
CLOCK_START = datetime(2030, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class IssuerSpec:
    name: str
    currency: str
    price: int


ISSUERS = (
    IssuerSpec("a", "EUR", 500),
    IssuerSpec("b", "EUR", 733),  # an odd price, so values round
    IssuerSpec("c", "USD", 1250),
)


class _Shared:
    engine = None
    next_start = CLOCK_START


@pytest.fixture(scope="module", autouse=True)
def _ledger_engine(databases):
    """A fresh migrated database for this module, with the app's engine setup."""
    from app.extensions import db

    app = make_app(databases.new())
    with app.app_context():
        engine = db.engine
    _Shared.engine = engine
    yield engine
    _Shared.engine = None
    engine.dispose()


def share(total: int, part: int, whole: int) -> int:
    return total if part == whole else total * part // whole


@dataclass
class MLot:
    entry_id: int
    currency: str
    points: int
    value: int
    expires_at: datetime
    points_remaining: int
    value_remaining: int


@dataclass
class MDebt:
    creditor: str
    currency: str
    points: int
    points_remaining: int


@dataclass
class MHold:
    hold_id: int
    member: int
    key: str
    points: int
    expires_at: datetime
    status: str = "pending"
    points_posted: int = 0


@dataclass
class MEarn:
    entry_id: int
    member: int
    issuer: int
    reversible: int


@dataclass
class MMember:
    lots: list[MLot] = field(default_factory=list)  # oldest first
    debts: list[MDebt] = field(default_factory=list)  # in creation order
    pending: int = 0

    @property
    def balance(self) -> int:
        return sum(lot.points_remaining for lot in self.lots)

    @property
    def available(self) -> int:
        return self.balance - self.pending

    @property
    def debt(self) -> int:
        return sum(d.points_remaining for d in self.debts)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        assert _Shared.engine is not None, "the module fixture did not run"
        self.session = Session(_Shared.engine)
        self.now = _Shared.next_start
        self.tag = uuid.uuid4().hex[:10]
        self.member_keys = [f"prop-{self.tag}-m{i}" for i in range(MEMBERS)]
        self.issuers = [
            ledger.Issuer(f"prop-{self.tag}-{spec.name}", spec.currency, spec.price) for spec in ISSUERS
        ]
        self.members = [MMember() for _ in range(MEMBERS)]
        self.earns: list[MEarn] = []
        self.holds: list[MHold] = []
        # Expected balances of the issuers' accounts: issued points, receivable value.
        self.issued = {issuer.key: 0 for issuer in self.issuers}
        self.receivable: dict[tuple[str, str], int] = {}
        # Sweep what earlier examples left pending or unexpired, so that the
        # global expiry jobs below only touch this example's members.
        while ledger.expire_holds(self.session, now=self.now):
            pass
        while ledger.expire_lots(self.session, now=self.now):
            pass
        self.session.commit()

    def teardown(self):
        _Shared.next_start = max(_Shared.next_start, self.now + GAP_BETWEEN_EXAMPLES)
        self.session.rollback()
        self.session.close()

    # -- helpers ---------------------------------------------------------

    def key(self, kind: str) -> str:
        return f"{kind}:{self.tag}:{uuid.uuid4().hex[:12]}"

    def _receive(self, issuer_key: str, currency: str, amount: int) -> None:
        k = (issuer_key, currency)
        self.receivable[k] = self.receivable.get(k, 0) + amount

    def _lot_of(self, entry_id: int) -> MLot | None:
        for member in self.members:
            for lot in member.lots:
                if lot.entry_id == entry_id:
                    return lot
        return None

    # -- rules -----------------------------------------------------------

    @initialize(
        earns=st.lists(
            st.tuples(
                st.integers(0, MEMBERS - 1),
                st.integers(0, len(ISSUERS) - 1),
                st.integers(1, 500),
                st.integers(1, 12),
                st.integers(0, 2),
            ),
            max_size=5,
        )
    )
    def opening_earns(self, earns):
        """Start with a few lots a day or two apart, so that expiry and spending have work."""
        for m, i, points, lifetime_days, days_later in earns:
            self.earn(m, i, points, lifetime_days)
            self.advance_time(days_later, 0)

    @rule(
        m=st.integers(0, MEMBERS - 1),
        i=st.integers(0, len(ISSUERS) - 1),
        points=st.integers(0, 500),
        lifetime_days=st.integers(1, 12),
    )
    def earn(self, m, i, points, lifetime_days):
        issuer = self.issuers[i]
        result = ledger.earn(
            self.session,
            member_key=self.member_keys[m],
            issuer=issuer,
            points=points,
            idempotency_key=self.key("earn"),
            ref="order",
            now=self.now,
            lifetime_days=lifetime_days,
        )
        self.session.commit()
        if points == 0:
            assert result.entry_id is None and result.lot_id is None
            return
        member = self.members[m]
        value = points * issuer.price_per_1000_points_cents // 1000
        debts = [d for d in member.debts if d.currency == issuer.currency and d.points_remaining > 0]
        repay_left = min(points, sum(d.points_remaining for d in debts))
        repaid = repay_left
        to_lot = points - repaid
        lot_value = share(value, to_lot, points)
        debt_value_left = value - lot_value
        for debt in debts:
            if repay_left == 0:
                break
            paid = min(repay_left, debt.points_remaining)
            paid_value = share(debt_value_left, paid, repay_left)
            self._receive(debt.creditor, issuer.currency, paid_value)
            debt.points_remaining -= paid
            repay_left -= paid
            debt_value_left -= paid_value
        self._receive(issuer.key, issuer.currency, -value)
        self.issued[issuer.key] -= points
        assert (result.points, result.points_to_balance, result.points_to_debt, result.value) == (
            points,
            to_lot,
            repaid,
            value,
        )
        assert result.entry_id is not None
        assert (result.lot_id is not None) == (to_lot > 0)
        if repaid:
            event("earn repays debt")
        if to_lot:
            member.lots.append(
                MLot(
                    entry_id=result.entry_id,
                    currency=issuer.currency,
                    points=to_lot,
                    value=lot_value,
                    expires_at=self.now + lifetime_days * DAY,
                    points_remaining=to_lot,
                    value_remaining=lot_value,
                )
            )
        self.earns.append(MEarn(result.entry_id, m, i, points))

    @precondition(lambda self: any(e.reversible > 0 for e in self.earns))
    @rule(data=st.data())
    def clawback(self, data):
        earn = data.draw(st.sampled_from([e for e in self.earns if e.reversible > 0]), label="earn")
        points = data.draw(st.integers(1, earn.reversible), label="points")
        issuer = self.issuers[earn.issuer]
        member = self.members[earn.member]
        lot = self._lot_of(earn.entry_id)
        in_lot = lot.points_remaining if lot else 0
        taken = min(points, in_lot, member.available)
        value_back = share(lot.value_remaining, taken, in_lot) if taken else 0
        owed = points - taken
        result = ledger.clawback(
            self.session,
            member_key=self.member_keys[earn.member],
            issuer=issuer,
            points=points,
            earn_entry_id=earn.entry_id,
            idempotency_key=self.key("refund"),
            ref="refund",
            now=self.now,
        )
        self.session.commit()
        assert (result.points, result.points_from_balance, result.points_to_debt, result.value_returned) == (
            points,
            taken,
            owed,
            value_back,
        )
        if taken:
            lot.points_remaining -= taken
            lot.value_remaining -= value_back
            self._receive(issuer.key, lot.currency, value_back)
        if owed:
            event("clawback leaves debt" + (" after taking some" if taken else ""))
            member.debts.append(MDebt(issuer.key, issuer.currency, owed, owed))
        self.issued[issuer.key] += points
        earn.reversible -= points

    @rule(
        data=st.data(),
        m=st.integers(0, MEMBERS - 1),
        timeout_s=st.one_of(
            st.integers(1, 6).map(lambda d: d * 86400),
            st.integers(1, 6 * 86400),
        ),
    )
    def place_hold(self, data, m, timeout_s):
        # Mostly amounts near what the member has, so both outcomes and the edge occur.
        available = self.members[m].available
        points = data.draw(
            st.one_of(
                st.integers(1, available + 2),
                st.sampled_from(sorted({max(1, available), available + 1})),
                st.integers(1, 600),
            ),
            label="points",
        )
        member = self.members[m]
        key = self.key("hold")
        kwargs = dict(
            member_key=self.member_keys[m], points=points, idempotency_key=key, ref="basket", now=self.now,
            timeout_s=timeout_s,
        )
        if points > member.available:
            with pytest.raises(ledger.InsufficientPoints) as caught:
                ledger.place_hold(self.session, **kwargs)
            self.session.rollback()
            event("place_hold: insufficient points")
            assert (caught.value.available, caught.value.wanted) == (member.available, points)
            return
        hold = ledger.place_hold(self.session, **kwargs)
        hold_id = hold.id
        assert (hold.points, hold.status, hold.points_posted) == (points, "pending", 0)
        self.session.commit()
        member.pending += points
        self.holds.append(MHold(hold_id, m, key, points, self.now + timedelta(seconds=timeout_s)))

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), same_points=st.booleans())
    def replay_place_hold(self, data, same_points):
        """A retried request returns the first hold; another amount under its key is a conflict."""
        hold = data.draw(st.sampled_from(self.holds), label="hold")
        points = hold.points if same_points else hold.points + 1
        kwargs = dict(
            member_key=self.member_keys[hold.member], points=points, idempotency_key=hold.key, ref="basket",
            now=self.now, timeout_s=3600,
        )
        if not same_points:
            with pytest.raises(ledger.IdempotencyConflict):
                ledger.place_hold(self.session, **kwargs)
            self.session.rollback()
            return
        again = ledger.place_hold(self.session, **kwargs)
        assert (again.id, again.status, again.points) == (hold.hold_id, hold.status, hold.points)
        self.session.commit()

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), partial=st.booleans())
    def post_hold(self, data, partial):
        hold = data.draw(st.sampled_from(self.holds), label="hold")
        spend = data.draw(st.integers(1, hold.points), label="spend") if partial else None
        if hold.status != "pending":
            with pytest.raises(ledger.HoldAlreadyResolved) as caught:
                ledger.post_hold(self.session, hold.hold_id, now=self.now, points=spend)
            self.session.rollback()
            event(f"post_hold: already {hold.status}")
            assert caught.value.status == hold.status
            return
        if self.now >= hold.expires_at:
            with pytest.raises(ledger.HoldExpired):
                ledger.post_hold(self.session, hold.hold_id, now=self.now, points=spend)
            self.session.rollback()
            event("post_hold: expired")
            return
        posted = ledger.post_hold(self.session, hold.hold_id, now=self.now, points=spend)
        assert (posted.status, posted.points_posted) == ("posted", spend or hold.points)
        self.session.commit()
        member = self.members[hold.member]
        member.pending -= hold.points
        left = spend or hold.points
        for lot in member.lots:  # oldest first, expired or not
            if left == 0:
                break
            taken = min(left, lot.points_remaining)
            if taken == 0:
                continue
            if lot.expires_at <= self.now:
                event("post_hold spends an expired, unswept lot")
            lot.value_remaining -= share(lot.value_remaining, taken, lot.points_remaining)
            lot.points_remaining -= taken
            left -= taken
        assert left == 0, "the model let a hold exceed the member's lots"
        hold.status = "posted"
        hold.points_posted = spend or hold.points

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def void_hold(self, data):
        hold = data.draw(st.sampled_from(self.holds), label="hold")
        if hold.status != "pending":
            with pytest.raises(ledger.HoldAlreadyResolved) as caught:
                ledger.void_hold(self.session, hold.hold_id, now=self.now)
            self.session.rollback()
            event(f"void_hold: already {hold.status}")
            assert caught.value.status == hold.status
            return
        voided = ledger.void_hold(self.session, hold.hold_id, now=self.now)
        assert voided.status == "voided"
        self.session.commit()
        self.members[hold.member].pending -= hold.points
        hold.status = "voided"

    @rule()
    def expire_holds(self):
        count = ledger.expire_holds(self.session, now=self.now)
        self.session.commit()
        expected = 0
        for hold in self.holds:
            if hold.status == "pending" and hold.expires_at <= self.now:
                hold.status = "voided"
                self.members[hold.member].pending -= hold.points
                expected += 1
        assert count == expected
        if count:
            event("expire_holds voids a hold")

    @rule()
    def expire_lots(self):
        points = ledger.expire_lots(self.session, now=self.now)
        self.session.commit()
        expected = 0
        for member in self.members:
            available = member.available
            expired = 0
            for lot in member.lots:
                if lot.expires_at > self.now or lot.points_remaining == 0:
                    continue
                taken = min(lot.points_remaining, available - expired)
                if taken < lot.points_remaining:
                    event("expire_lots: held points stay")
                if taken <= 0:
                    break
                lot.value_remaining -= share(lot.value_remaining, taken, lot.points_remaining)
                lot.points_remaining -= taken
                expired += taken
            expected += expired
        assert points == expected
        if points:
            event("expire_lots expires points")

    @rule(days=st.integers(0, 5), seconds=st.sampled_from([0, 0, 0, 1, 5 * 3600]))
    def advance_time(self, days, seconds):
        self.now += timedelta(days=days, seconds=seconds)

    @rule()
    def seal(self):
        ledger.seal(self.session)
        self.session.commit()
        report = ledger.verify(self.session)
        self.session.rollback()
        assert report.sealed == report.entries, f"{report.entries} entries, {report.sealed} sealed"

    # -- the checks after every step --------------------------------------

    @invariant()
    def ledger_matches_model(self):
        s = self.session
        try:
            for key, member in zip(self.member_keys, self.members):
                got = ledger.member_points(s, key)
                want = ledger.MemberPoints(member.balance, member.pending, member.debt)
                assert got == want, f"{key}: ledger {got}, model {want}"
            names = {accounts.member_account(key): m for m, key in enumerate(self.member_keys)}
            lots: dict[int, list[tuple]] = {m: [] for m in range(MEMBERS)}
            for name, lot in s.execute(
                select(Account.name, Lot)
                .join(Lot, Lot.member_account_id == Account.id)
                .where(Account.name.in_(names))
                .order_by(Lot.earned_at, Lot.id)
            ):
                lots[names[name]].append(
                    (lot.entry_id, lot.currency, lot.points, lot.value, lot.expires_at, lot.points_remaining, lot.value_remaining)
                )
            debts: dict[int, list[tuple]] = {m: [] for m in range(MEMBERS)}
            for name, debt in s.execute(
                select(Account.name, Debt)
                .join(Debt, Debt.member_account_id == Account.id)
                .where(Account.name.in_(names))
                .order_by(Debt.id)
            ):
                debts[names[name]].append((debt.creditor, debt.currency, debt.points, debt.points_remaining))
            for m, member in enumerate(self.members):
                assert lots[m] == [
                    (lot.entry_id, lot.currency, lot.points, lot.value, lot.expires_at, lot.points_remaining, lot.value_remaining)
                    for lot in member.lots
                ], f"member {m}: lots differ"
                assert debts[m] == [
                    (d.creditor, d.currency, d.points, d.points_remaining) for d in member.debts
                ], f"member {m}: debts differ"
            holds = {
                h.id: (h.status, h.points, h.points_posted)
                for h in s.execute(select(Hold).where(Hold.id.in_([h.hold_id for h in self.holds]))).scalars()
            }
            assert holds == {h.hold_id: (h.status, h.points, h.points_posted) for h in self.holds}
            stored = dict(
                ((name, asset), int(total))
                for name, asset, total in s.execute(
                    select(Account.name, Account.asset, func.sum(Balance.balance))
                    .join(Balance, Balance.account_id == Account.id)
                    .where(Account.name.like(f"merchant:prop-{self.tag}-%"))
                    .group_by(Account.name, Account.asset)
                )
            )
            expected = {(accounts.issued_account(k), accounts.PTS): v for k, v in self.issued.items()}
            expected.update(
                ((accounts.receivable_account(k), currency), v) for (k, currency), v in self.receivable.items()
            )
            nonzero = lambda d: {k: v for k, v in d.items() if v}  # noqa: E731
            assert nonzero(stored) == nonzero(expected), "issuer accounts differ"
            report = ledger.verify(s)
            assert report.violations == [], "\n".join(map(str, report.violations))
        finally:
            s.rollback()


TestLedgerStateful = LedgerMachine.TestCase
TestLedgerStateful.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
