"""Stateful property test of the points ledger against a pure-Python model.

Random sequences of earn (available at once, or incoming for a return window),
orders with extras (a tier multiplier paid by the operator, a campaign bonus
paid by the merchant), release of incoming points (one lot, or every lot due),
clawback (refund, inside the window or after), holds (place, post in full or in
part, void, replay), expiry of lots and holds, card payments and card vouchers
(issued, redeemed, replayed), sealing and a simulated clock
run against a real database (SQLite, or PostgreSQL with
LOYALTY_TEST_DATABASE=postgresql), three members and four issuers (two
prices in EUR, one in USD, and the operator). After every step the ledger must agree with the
model: each member's ``member_points``, their lots (oldest first, with
expiry and value), debts and holds row by row, the balance of every account,
and ``ledger.verify`` must find no violation (rules 1 to 8; a rule seals).

The model knows nothing of the database. Each example runs on its own copy
of a migrated template database, so the global jobs (expiry, sealing,
verify) see that example's data only.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import ledger
from ledger import accounts
from ledger.models import Account, Balance, Debt, Entry, Hold, Lot, Seal
from tests.conftest import make_app

MEMBERS = 3
DAY = timedelta(days=1)
CLOCK_START = datetime(2030, 1, 1, tzinfo=UTC)


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


class _Databases:
    """Each example gets its own copy of a migrated template database.

    ``verify`` and the expiry jobs are global, so a database of its own keeps
    each example exact, and ``verify`` (which rechecks the whole hash chain)
    as cheap at the last step as at the first.
    """

    databases = None  # conftest's Databases, set by the module fixture
    template_url: str | None = None

    @classmethod
    def new(cls) -> tuple[str, object]:
        from app.extensions import db

        assert cls.template_url is not None, "the module fixture did not run"
        template = make_url(cls.template_url)
        suffix = uuid.uuid4().hex[:8]
        if template.get_backend_name() == "postgresql":
            name = f"{template.database}_{suffix}"
            cls.databases.created.append(name)  # dropped at the end of the run if an example could not
            with cls.databases.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
            url = template.set(database=name).render_as_string(hide_password=False)
        else:
            source = Path(template.database)
            target = source.with_name(f"{source.stem}_{suffix}{source.suffix}")
            for extra in ("", "-wal"):
                if Path(f"{source}{extra}").exists():
                    shutil.copyfile(f"{source}{extra}", f"{target}{extra}")
            url = template.set(database=str(target)).render_as_string(hide_password=False)
        app = make_app(url)
        with app.app_context():
            return url, db.engine

    @classmethod
    def drop(cls, url: str, engine) -> None:
        engine.dispose()
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            with cls.databases.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        else:
            for extra in ("", "-wal", "-shm"):
                Path(f"{parsed.database}{extra}").unlink(missing_ok=True)


@pytest.fixture(scope="module", autouse=True)
def _template_database(databases):
    """One migrated database for this module, copied for every example."""
    _Databases.databases = databases
    _Databases.template_url = databases.new()
    yield
    _Databases.databases = _Databases.template_url = None


def share(total: int, part: int, whole: int) -> int:
    return total if part == whole else total * part // whole


@dataclass
class MLot:
    entry_id: int
    currency: str
    points: int
    value_cents: int
    expires_at: datetime
    points_remaining: int
    value_remaining_cents: int
    # What expired (now breakage), until a refund takes it back.
    points_expired: int = 0
    value_expired_cents: int = 0
    # While incoming: when the lot becomes available (then None).
    incoming_until: datetime | None = None


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
        return sum(lot.points_remaining for lot in self.lots if lot.incoming_until is None)

    @property
    def incoming(self) -> int:
        return sum(lot.points_remaining for lot in self.lots if lot.incoming_until is not None)

    @property
    def spendable_lots(self) -> list[MLot]:
        return [lot for lot in self.lots if lot.incoming_until is None]

    @property
    def available(self) -> int:
        return self.balance - self.pending

    @property
    def debt(self) -> int:
        return sum(d.points_remaining for d in self.debts)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.url, self.engine = _Databases.new()
        self.session = Session(self.engine)
        self.now = CLOCK_START
        self.tag = uuid.uuid4().hex[:10]
        self.member_keys = [f"prop-{self.tag}-m{i}" for i in range(MEMBERS)]
        self.issuers = [ledger.Issuer(f"prop-{self.tag}-{spec.name}", spec.currency, spec.price) for spec in ISSUERS]
        # The operator funds tier and coalition extras (each example has a database of its own).
        self.issuers.append(ledger.Issuer(ledger.OPERATOR, "EUR", 500))
        self.members = [MMember() for _ in range(MEMBERS)]
        self.earns: list[MEarn] = []
        # Issuers an earn used that are not in ``issuers`` (the operator at a merchant's price).
        self.extra_issuers: list[ledger.Issuer] = []
        self.holds: list[MHold] = []
        # Expected balance of every account but the members' own and the float,
        # which follow from the lots and debts: (name, asset) -> amount.
        self.books: dict[tuple[str, str], int] = {}
        # Card vouchers issued: (voucher key, value in EUR cents, redeemed).
        self.card_vouchers: list[list] = []

    def teardown(self):
        self.session.rollback()
        self.session.close()
        _Databases.drop(self.url, self.engine)

    # -- helpers ---------------------------------------------------------

    def key(self, kind: str) -> str:
        return f"{kind}:{self.tag}:{uuid.uuid4().hex[:12]}"

    def _book(self, name: str, asset: str, amount: int) -> None:
        self.books[(name, asset)] = self.books.get((name, asset), 0) + amount

    def _take(self, lot: MLot, points: int) -> int:
        """Remove points from a model lot with their share of its value; returns the value."""
        value = share(lot.value_remaining_cents, points, lot.points_remaining)
        lot.points_remaining -= points
        lot.value_remaining_cents -= value
        return value

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
                st.sampled_from([0, 0, 4]),
            ),
            min_size=2,
            max_size=6,
        ),
        holds=st.lists(st.tuples(st.integers(0, MEMBERS - 1), st.integers(1, 100), st.integers(1, 6)), max_size=2),
    )
    def opening(self, earns, holds):
        """Start with a few lots a day or two apart (some incoming) and maybe holds, so that every rule has work."""
        for m, i, points, lifetime_days, days_later, window_days in earns:
            self._earn(m, i, points, lifetime_days, window_days)
            self.advance_time(days_later, 0)
        for m, percent, days in holds:
            points = self.members[m].available * percent // 100
            if points:
                self._place_hold(m, points, days * 86400)

    @rule(
        m=st.integers(0, MEMBERS - 1),
        i=st.integers(0, len(ISSUERS)),
        points=st.integers(0, 500),
        lifetime_days=st.integers(1, 12),
        window_days=st.sampled_from([0, 0, 0, 2, 5]),
    )
    def earn(self, m, i, points, lifetime_days, window_days=0):
        self._earn(m, i, points, lifetime_days, window_days)

    @rule(
        m=st.integers(0, MEMBERS - 1),
        i=st.integers(0, len(ISSUERS) - 1),
        base=st.integers(0, 500),
        tier_bp=st.sampled_from([10_000, 12_500, 15_000]),
        bonus=st.sampled_from([0, 0, 50]),
        window_days=st.sampled_from([0, 3]),
    )
    def order_with_extras(self, m, i, base, tier_bp, bonus, window_days):
        """An order as the application records it: the base from the merchant, the
        tier's extra from the operator, a campaign bonus from the merchant, each its
        own earn with the same return window."""
        issuer = self.issuers[i]
        operator = ledger.Issuer(ledger.OPERATOR, issuer.currency, issuer.price_per_1000_points_cents)
        self._earn(m, i, base, 10, window_days)
        self._earn(m, i, base * (tier_bp - 10_000) // 10_000, 10, window_days, issuer=operator)
        self._earn(m, i, bonus, 10, window_days)
        if tier_bp > 10_000 and base >= 4:
            event("order with a tier extra")

    def _earn(self, m, i, points, lifetime_days, window_days, *, issuer=None):
        issuer = issuer or self.issuers[i]
        available_at = self.now + window_days * DAY if window_days else None
        result = ledger.earn(
            self.session,
            member_key=self.member_keys[m],
            issuer=issuer,
            points=points,
            idempotency_key=self.key("earn"),
            ref="order",
            now=self.now,
            lifetime_days=lifetime_days,
            available_at=available_at,
        )
        self.session.commit()
        self._model_earn(m, i, issuer, points, lifetime_days, available_at, result)

    @rule(
        earns=st.lists(
            st.tuples(
                st.integers(0, MEMBERS - 1),
                st.integers(0, len(ISSUERS)),
                st.integers(0, 500),
                st.integers(1, 12),
                st.sampled_from([0, 0, 2]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    def earn_many(self, earns):
        """Several earns in one call (a batch of orders): the same as one earn after another."""
        requests = [
            ledger.EarnRequest(
                member_key=self.member_keys[m],
                issuer=self.issuers[i],
                points=points,
                idempotency_key=self.key("earn"),
                ref="order",
                memo="",
                lifetime_days=lifetime_days,
                available_at=self.now + window_days * DAY if window_days else None,
            )
            for m, i, points, lifetime_days, window_days in earns
        ]
        results = ledger.earn_many(self.session, requests, now=self.now)
        self.session.commit()
        for (m, i, points, lifetime_days, _w), request, result in zip(earns, requests, results, strict=True):
            self._model_earn(m, i, request.issuer, points, lifetime_days, request.available_at, result, many=True)
            member = self.members[m]
            figures = ledger.MemberPoints(member.balance, member.pending, member.debt, member.incoming)
            assert result.member_after == figures, f"earn_many says {result.member_after}, model {figures}"
        if len({m for m, *_ in earns}) < len(earns):
            event("earn_many with a member twice")

    def _model_earn(self, m, i, issuer, points, lifetime_days, available_at, result, *, many=False):
        if points == 0:
            assert result.entry_id is None and result.lot_id is None
            return
        member = self.members[m]
        value = points * issuer.price_per_1000_points_cents // 1000
        debts = [d for d in member.debts if d.currency == issuer.currency and d.points_remaining > 0]
        if available_at is not None:
            event("earn incoming")
            debts = []  # incoming points repay debt when they arrive
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
            self._book(accounts.funding_account(debt.creditor), issuer.currency, paid_value)
            debt.points_remaining -= paid
            repay_left -= paid
            debt_value_left -= paid_value
        self._book(accounts.funding_account(issuer.key), issuer.currency, -value)
        self._book(accounts.issued_account(issuer.key), accounts.PTS, -points)
        got = (result.points, result.points_to_balance, result.points_to_debt, result.value_cents)
        assert got == (points, to_lot, repaid, value)
        assert result.entry_id is not None
        assert (result.lot_id is not None) == (to_lot > 0)
        after = None
        if available_at is None:
            after = ledger.MemberPoints(member.balance + to_lot, member.pending, member.debt)
        if not many:
            assert result.member_after == after, f"earn says {result.member_after}, model {after}"
        if repaid:
            event("earn repays debt")
        if to_lot:
            member.lots.append(
                MLot(
                    entry_id=result.entry_id,
                    currency=issuer.currency,
                    points=to_lot,
                    value_cents=lot_value,
                    expires_at=(available_at or self.now) + lifetime_days * DAY,
                    points_remaining=to_lot,
                    value_remaining_cents=lot_value,
                    incoming_until=available_at,
                )
            )
        self.earns.append(
            MEarn(result.entry_id, m, self.issuers.index(issuer) if issuer in self.issuers else i, points)
        )
        if issuer not in self.issuers:
            self.earns[-1].issuer = len(self.issuers) + len(self.extra_issuers)
            self.extra_issuers.append(issuer)

    @precondition(lambda self: any(e.reversible > 0 for e in self.earns))
    @rule(data=st.data())
    def clawback(self, data):
        earn = data.draw(st.sampled_from([e for e in self.earns if e.reversible > 0]), label="earn")
        issuer = self._issuer(earn.issuer)
        member = self.members[earn.member]
        lot = self._lot_of(earn.entry_id)
        incoming = lot is not None and lot.incoming_until is not None
        most = min(earn.reversible, lot.points_remaining) if incoming else earn.reversible
        if most == 0:
            return
        points = data.draw(st.integers(1, most), label="points")
        # From the lot what the member can give back, then what expired of it, then debt;
        # an incoming lot gives back from itself alone, never debt.
        in_lot = lot.points_remaining if lot else 0
        taken = min(points, in_lot) if incoming else min(points, in_lot, member.available)
        if incoming:
            event("clawback inside the return window")
        value_back = self._take(lot, taken) if taken else 0
        from_expired = min(points - taken, lot.points_expired if lot else 0)
        breakage_back = 0
        if from_expired:
            breakage_back = share(lot.value_expired_cents, from_expired, lot.points_expired)
            lot.points_expired -= from_expired
            lot.value_expired_cents -= breakage_back
        owed = points - taken - from_expired
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
        got = (
            result.points,
            result.points_from_balance,
            result.points_from_expired,
            result.points_to_debt,
            result.value_returned_cents,
        )
        assert got == (points, taken, from_expired, owed, value_back + breakage_back), got
        self._book(accounts.issued_account(issuer.key), accounts.PTS, points)
        if value_back:
            self._book(accounts.funding_account(issuer.key), lot.currency, value_back)
        if from_expired:
            event("clawback takes back expired points")
            self._book(accounts.PLATFORM_EXPIRED, accounts.PTS, -from_expired)
            self._book(accounts.REVENUE_BREAKAGE, issuer.currency, -breakage_back)
            self._book(accounts.funding_account(issuer.key), issuer.currency, breakage_back)
        if owed:
            event("clawback leaves debt" + (" after taking some" if taken or from_expired else ""))
            member.debts.append(MDebt(issuer.key, issuer.currency, owed, owed))
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
        self._place_hold(m, points, timeout_s)

    def _place_hold(self, m: int, points: int, timeout_s: int) -> None:
        member = self.members[m]
        key = self.key("hold")
        kwargs = {
            "member_key": self.member_keys[m],
            "points": points,
            "idempotency_key": key,
            "ref": "basket",
            "now": self.now,
            "timeout_s": timeout_s,
        }
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
        kwargs = {
            "member_key": self.member_keys[hold.member],
            "points": points,
            "idempotency_key": hold.key,
            "ref": "basket",
            "now": self.now,
            "timeout_s": 3600,
        }
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
        self._post_hold(hold, spend)

    def _post_hold(self, hold: MHold, spend: int | None) -> None:
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
        event("post_hold: " + ("part" if spend and spend < hold.points else "all"))
        assert (posted.status, posted.points_posted) == ("posted", spend or hold.points)
        self.session.commit()
        member = self.members[hold.member]
        member.pending -= hold.points
        left = spend or hold.points
        for lot in member.spendable_lots:  # oldest first, expired or not
            if left == 0:
                break
            taken = min(left, lot.points_remaining)
            if taken == 0:
                continue
            if lot.expires_at <= self.now:
                event("post_hold spends an expired, unswept lot")
            self._book(accounts.REDEMPTION_VALUE, lot.currency, self._take(lot, taken))
            left -= taken
        assert left == 0, "the model let a hold exceed the member's lots"
        self._book(accounts.BOUTIQUE_REDEEMED, accounts.PTS, spend or hold.points)
        hold.status = "posted"
        hold.points_posted = spend or hold.points

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def void_hold(self, data):
        self._void_hold(data.draw(st.sampled_from(self.holds), label="hold"))

    def _void_hold(self, hold: MHold) -> None:
        if hold.status != "pending":
            with pytest.raises(ledger.HoldAlreadyResolved) as caught:
                ledger.void_hold(self.session, hold.hold_id, now=self.now)
            self.session.rollback()
            event(f"void_hold: already {hold.status}")
            assert caught.value.status == hold.status
            return
        voided = ledger.void_hold(self.session, hold.hold_id, now=self.now)
        event("void_hold" + (" after its expiry" if self.now >= hold.expires_at else ""))
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
            # Pending holds are covered by the oldest lots first, as posting will spend them.
            held_left = member.pending
            for lot in member.spendable_lots:
                covered = min(held_left, lot.points_remaining)
                held_left -= covered
                taken = lot.points_remaining - covered
                if lot.expires_at > self.now or taken == 0:
                    continue
                if covered:
                    event("expire_lots: held points stay")
                value = self._take(lot, taken)
                lot.points_expired += taken
                lot.value_expired_cents += value
                self._book(accounts.REVENUE_BREAKAGE, lot.currency, value)
                expected += taken
        self._book(accounts.PLATFORM_EXPIRED, accounts.PTS, expected)
        assert points == expected
        if points:
            event("expire_lots expires points")

    @rule(
        i=st.integers(0, len(ISSUERS) - 1),
        percent=st.integers(1, 100),
        replay=st.sampled_from(["none", "same", "other-amount"]),
    )
    def collect(self, i, percent, replay):
        """Collect part of what an issuer owes (its receivable is negative), once per key."""
        issuer = self.issuers[i]
        owed = -self.books.get((accounts.receivable_account(issuer.key), issuer.currency), 0)
        amount = owed * percent // 100
        if amount <= 0:
            return
        key = self.key("statement")
        arguments = {"merchant_key": issuer.key, "currency": issuer.currency, "collection_key": key}
        posted = ledger.post_collection(self.session, amount_cents=amount, now=self.now, **arguments)
        self.session.commit()
        self._book(accounts.receivable_account(issuer.key), issuer.currency, amount)
        self._book(accounts.PLATFORM_CASH, issuer.currency, -amount)
        if replay == "same":
            again = ledger.post_collection(self.session, amount_cents=amount, now=self.now, **arguments)
            self.session.commit()
            assert again == posted
            event("collection replayed")
        elif replay == "other-amount":
            with pytest.raises(ledger.IdempotencyConflict):
                ledger.post_collection(self.session, amount_cents=amount + 1, now=self.now, **arguments)
            self.session.rollback()
            event("collection replayed with another amount")

    @rule(i=st.integers(0, len(ISSUERS) - 1), amount=st.integers(1, 50_000), replay=st.booleans())
    def pay_merchant(self, i, amount, replay):
        """Pay a merchant from its payable (what a statement said the operator owed it); a
        second entry with the same payout key is refused by the database and changes nothing."""
        issuer = self.issuers[i]
        arguments = {"merchant_key": issuer.key, "payout_key": self.key("statement"), "currency": issuer.currency}
        ledger.post_merchant_payout(self.session, amount_cents=amount, now=self.now, **arguments)
        self.session.commit()
        self._book(accounts.payable_account(issuer.key), issuer.currency, -amount)
        self._book(accounts.PLATFORM_CASH, issuer.currency, amount)
        if replay:
            with pytest.raises(IntegrityError):
                ledger.post_merchant_payout(self.session, amount_cents=amount, now=self.now, **arguments)
            self.session.rollback()
            event("merchant payout replayed")

    @rule(
        m=st.integers(0, MEMBERS - 1),
        amount=st.integers(1, 20_000),
        replay=st.sampled_from(["none", "same", "other-amount"]),
    )
    def card_payment(self, m, amount, replay):
        """A paid card's invoice: money in to card revenue, once per invoice id."""
        arguments = {"member_key": self.member_keys[m], "payment_key": self.key("in"), "currency": "EUR"}
        posted = ledger.post_card_payment(self.session, amount_cents=amount, now=self.now, **arguments)
        self.session.commit()
        self._book(accounts.PLATFORM_CASH, "EUR", -amount)
        self._book(accounts.REVENUE_CARDS, "EUR", amount)
        if replay == "same":
            assert ledger.post_card_payment(self.session, amount_cents=amount, now=self.now, **arguments) == posted
            self.session.commit()
            event("card payment replayed")
        elif replay == "other-amount":
            with pytest.raises(ledger.IdempotencyConflict):
                ledger.post_card_payment(self.session, amount_cents=amount + 1, now=self.now, **arguments)
            self.session.rollback()
            event("card payment replayed with another amount")

    @rule(m=st.integers(0, MEMBERS - 1), value=st.sampled_from([500, 1000, 2500]))
    def card_voucher_issue(self, m, value):
        """A card voucher funded out of card revenue (which may go below zero)."""
        key = self.key("voucher")
        ledger.post_card_voucher_issue(
            self.session,
            member_key=self.member_keys[m],
            voucher_key=key,
            currency="EUR",
            value_cents=value,
            now=self.now,
        )
        self.session.commit()
        self._book(accounts.REVENUE_CARDS, "EUR", -value)
        self._book(accounts.CARD_VOUCHERS, "EUR", value)
        self.card_vouchers.append([key, value, False])

    @precondition(lambda self: any(not redeemed for _, _, redeemed in self.card_vouchers))
    @rule(data=st.data(), i=st.integers(0, len(ISSUERS) - 1), replay=st.booleans())
    def card_voucher_redeem(self, data, i, replay):
        """A merchant accepts a card voucher: the operator owes it the value, once per voucher."""
        voucher = data.draw(st.sampled_from([v for v in self.card_vouchers if not v[2]]))
        key, value, _ = voucher
        merchant = self.issuers[i].key
        arguments = {"merchant_key": merchant, "voucher_key": key, "currency": "EUR", "value_cents": value}
        posted = ledger.post_card_voucher_redemption(self.session, now=self.now, **arguments)
        self.session.commit()
        voucher[2] = True
        self._book(accounts.CARD_VOUCHERS, "EUR", -value)
        self._book(accounts.payable_account(merchant), "EUR", value)
        if replay:
            assert ledger.post_card_voucher_redemption(self.session, now=self.now, **arguments) == posted
            self.session.commit()
            event("card voucher redemption replayed")

    @rule(days=st.integers(0, 5), seconds=st.sampled_from([0, 0, 0, 1, 5 * 3600]))
    def advance_time(self, days, seconds):
        self.now += timedelta(days=days, seconds=seconds)

    @precondition(lambda self: self._pending_holds_ahead())
    @rule(data=st.data(), before=st.booleans(), then=st.sampled_from(["nothing", "expire_holds", "post", "void"]))
    def advance_to_hold_expiry(self, data, before, then):
        """Jump to a pending hold's expiry, or a second before it, and act there: the edge."""
        hold = data.draw(st.sampled_from(self._pending_holds_ahead()), label="hold")
        self.now = hold.expires_at - timedelta(seconds=1) if before else hold.expires_at
        event(f"at a hold's expiry{' - 1 s' if before else ''}, then {then}")
        if then == "expire_holds":
            self.expire_holds()
        elif then == "post":
            self._post_hold(hold, None)
        elif then == "void":
            self._void_hold(hold)

    def _pending_holds_ahead(self) -> list[MHold]:
        return [h for h in self.holds if h.status == "pending" and h.expires_at > self.now]

    @precondition(lambda self: self._lot_expiries_ahead())
    @rule(data=st.data(), before=st.booleans(), expire=st.booleans())
    def advance_to_lot_expiry(self, data, before, expire):
        """Jump to an open lot's expiry, or a second before it, and maybe run the expiry job."""
        expires_at = data.draw(st.sampled_from(self._lot_expiries_ahead()), label="expires_at")
        self.now = expires_at - timedelta(seconds=1) if before else expires_at
        if expire:
            self.expire_lots()

    def _lot_expiries_ahead(self) -> list[datetime]:
        return sorted(
            {
                lot.expires_at
                for m in self.members
                for lot in m.spendable_lots
                if lot.points_remaining and lot.expires_at > self.now
            }
        )

    def _issuer(self, index: int) -> ledger.Issuer:
        all_issuers = self.issuers + self.extra_issuers
        return all_issuers[index]

    def _incoming(self) -> list[tuple[int, MLot]]:
        return [(m, lot) for m, member in enumerate(self.members) for lot in member.lots if lot.incoming_until]

    def _release_in_model(self, m: int, lot: MLot) -> None:
        """What the ledger does on release: debt in the lot's currency first (its
        creditors get that share of the lot's value), then the member's balance."""
        member = self.members[m]
        points = lot.points_remaining
        lot.incoming_until = None
        debts = [d for d in member.debts if d.currency == lot.currency and d.points_remaining > 0]
        repaid = min(points, sum(d.points_remaining for d in debts))
        if not repaid:
            return
        event("release repays debt")
        value = self._take(lot, repaid)
        left, value_left = repaid, value
        for debt in debts:
            if left == 0:
                break
            paid = min(left, debt.points_remaining)
            paid_value = share(value_left, paid, left)
            self._book(accounts.funding_account(debt.creditor), lot.currency, paid_value)
            debt.points_remaining -= paid
            left -= paid
            value_left -= paid_value

    @precondition(lambda self: self._incoming())
    @rule(data=st.data(), twice=st.booleans())
    def confirm(self, data, twice):
        """The merchant confirms an order: its incoming lot is released now, once."""
        m, lot = data.draw(st.sampled_from(self._incoming()), label="lot")
        points = lot.points_remaining
        released = ledger.release_lot(self.session, earn_entry_id=lot.entry_id, now=self.now)
        self.session.commit()
        assert released == points
        self._release_in_model(m, lot)
        if twice:
            assert ledger.release_lot(self.session, earn_entry_id=lot.entry_id, now=self.now) == 0
            self.session.commit()
        event("confirm releases a lot" + (" (refunded in full)" if points == 0 else ""))

    @precondition(lambda self: self._incoming())
    @rule(data=st.data(), before=st.booleans())
    def release_due(self, data, before):
        """Jump to an incoming lot's date (or a second before it) and run the job."""
        _, lot = data.draw(st.sampled_from(self._incoming()), label="lot")
        self.now = max(self.now, lot.incoming_until - timedelta(seconds=1) if before else lot.incoming_until)
        due = sorted(
            ((m, x) for m, x in self._incoming() if x.incoming_until <= self.now),
            key=lambda item: (item[1].incoming_until, item[1].entry_id),
        )
        while ledger.release_due(self.session, now=self.now):
            self.session.commit()
        self.session.commit()
        for m, x in due:
            self._release_in_model(m, x)
        if due:
            event("release-points job releases lots")

    @rule()
    def seal(self):
        ledger.seal(self.session)
        self.session.commit()
        entries = self.session.execute(select(func.count(Entry.id))).scalar_one()
        sealed = self.session.execute(select(func.count(Seal.seq))).scalar_one()
        self.session.rollback()
        assert sealed == entries, f"{entries} entries, {sealed} sealed"

    # -- the checks after every step --------------------------------------

    @invariant()
    def ledger_matches_model(self):
        # A session of its own, as another request would read the ledger.
        with Session(self.engine) as s:
            for key, member in zip(self.member_keys, self.members, strict=True):
                got = ledger.member_points(s, key)
                want = ledger.MemberPoints(member.balance, member.pending, member.debt, member.incoming)
                assert got == want, f"{key}: ledger {got}, model {want}"
            self._check_lots_and_debts(s)
            holds = {
                h.id: (h.status, h.points, h.points_posted)
                for h in s.execute(select(Hold).where(Hold.id.in_([h.hold_id for h in self.holds]))).scalars()
            }
            assert holds == {h.hold_id: (h.status, h.points, h.points_posted) for h in self.holds}
            self._check_balances(s)
            report = ledger.verify(s)
            assert report.violations == [], "\n".join(map(str, report.violations))

    def _check_lots_and_debts(self, s: Session) -> None:
        """Every member's lots and debts, field by field, in the model's order."""
        names = {accounts.member_account(key): m for m, key in enumerate(self.member_keys)}
        lots: dict[int, list[tuple]] = {m: [] for m in range(MEMBERS)}
        for name, lot in s.execute(
            select(Account.name, Lot)
            .join(Lot, Lot.member_account_id == Account.id)
            .where(Account.name.in_(names))
            .order_by(Lot.earned_at, Lot.id)
        ):
            lots[names[name]].append(_lot_row(lot))
        debts: dict[int, list[tuple]] = {m: [] for m in range(MEMBERS)}
        for name, debt in s.execute(
            select(Account.name, Debt)
            .join(Debt, Debt.member_account_id == Account.id)
            .where(Account.name.in_(names))
            .order_by(Debt.id)
        ):
            debts[names[name]].append((debt.creditor, debt.currency, debt.points, debt.points_remaining))
        for m, member in enumerate(self.members):
            assert lots[m] == [_lot_row(lot) for lot in member.lots], f"member {m}: lots differ"
            assert debts[m] == [(d.creditor, d.currency, d.points, d.points_remaining) for d in member.debts], (
                f"member {m}: debts differ"
            )

    def _check_balances(self, s: Session) -> None:
        """Every account's balance: the ones the model books, the members' and the float."""
        stored = {
            (name, asset): int(total)
            for name, asset, total in s.execute(
                select(Account.name, Account.asset, func.sum(Balance.balance))
                .join(Balance, Balance.account_id == Account.id)
                .group_by(Account.name, Account.asset)
            )
        }
        expected = dict(self.books)
        for key, member in zip(self.member_keys, self.members, strict=True):
            expected[(accounts.member_account(key), accounts.PTS)] = member.balance
            expected[(accounts.member_debt_account(key), accounts.PTS)] = -member.debt
            expected[(accounts.member_incoming_account(key), accounts.PTS)] = member.incoming
            for lot in member.lots:
                k = (accounts.POINTS_FLOAT, lot.currency)
                expected[k] = expected.get(k, 0) + lot.value_remaining_cents
        assert _nonzero(stored) == _nonzero(expected), "account balances differ from the model"


TestLedgerStateful = LedgerMachine.TestCase
# About 500 steps, each checked in full: some 12 s on SQLite, 25 to 40 s on PostgreSQL.
TestLedgerStateful.settings = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _nonzero(balances: dict) -> dict:
    return {k: v for k, v in balances.items() if v}


def _lot_row(lot) -> tuple:
    """A lot's fields in one order, for the ledger's lots and the model's alike."""
    return (
        lot.entry_id,
        lot.currency,
        lot.points,
        lot.value_cents,
        lot.expires_at,
        lot.points_remaining,
        lot.value_remaining_cents,
        lot.points_expired,
        lot.value_expired_cents,
        lot.incoming_until,
    )
