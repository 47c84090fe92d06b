"""``ledger verify --since-last``: what changed since the last checkpoint, and only that."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

import ledger
from ledger import accounts
from ledger.models import Posting, VerifyCheckpoint, VerifySum
from ledger.types import utcnow
from tests.conftest import make_app
from tests.factories.names import unique

ISSUER = ledger.Issuer("issuer-since", "EUR", 500)


@pytest.fixture
def app(databases):
    application = make_app(databases.new())
    yield application
    from app.extensions import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def session(app):
    from app.extensions import db

    with app.app_context(), Session(db.engine) as s:
        yield s


def earn_some(session: Session, count: int, *, members: int = 5, seal: bool = True) -> list[int]:
    entry_ids = []
    for i in range(count):
        result = ledger.earn(
            session,
            member_key=f"since-{i % members}",
            issuer=ISSUER,
            points=10 + i,
            idempotency_key=unique("earn"),
            ref="test",
            now=utcnow(),
            lifetime_days=365,
        )
        entry_ids.append(result.entry_id)
    session.commit()
    if seal:
        while ledger.seal(session):
            session.commit()
        session.commit()
    return entry_ids


def verify_cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=["ledger", "verify", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def checkpoints(session: Session) -> list[tuple[int, int, str]]:
    rows = session.execute(
        select(VerifyCheckpoint.id, VerifyCheckpoint.seal_seq, VerifyCheckpoint.kind).order_by(VerifyCheckpoint.id)
    ).all()
    session.rollback()
    return [tuple(row) for row in rows]


def test_without_a_checkpoint_since_last_runs_the_full_check_and_saves_one(app, session):
    earn_some(session, 4)

    result = verify_cli(app, "--since-last")

    assert result.exit_code == 0, result.output
    assert "4 entries, 4 sealed" in result.output
    assert [(seq, kind) for _, seq, kind in checkpoints(session)] == [(4, "full")]
    # The sums at the checkpoint are every account's postings.
    sums = dict(session.execute(select(VerifySum.account_id, VerifySum.total)).all())
    posted = dict(
        session.execute(select(Posting.account_id, func.sum(Posting.amount)).group_by(Posting.account_id)).all()
    )
    assert sums == posted


def test_a_clean_journal_passes_since_last_and_the_checkpoint_moves_on(app, session):
    earn_some(session, 3)
    assert verify_cli(app).exit_code == 0
    earn_some(session, 2)
    earn_some(session, 1, seal=False)

    result = verify_cli(app, "--since-last")

    assert result.exit_code == 0, result.output
    assert "2 newly sealed entries, 1 awaiting seal" in result.output
    assert [(seq, kind) for _, seq, kind in checkpoints(session)] == [(3, "full"), (5, "incremental")]
    # And again, from the incremental checkpoint: the sealed-since entry now counts.
    while ledger.seal(session):
        session.commit()
    session.commit()
    again = verify_cli(app, "--since-last")
    assert again.exit_code == 0, again.output
    assert "1 newly sealed entries, 0 awaiting seal" in again.output
    assert verify_cli(app).exit_code == 0


@pytest.mark.parametrize(
    ("tamper", "rules"),
    [
        ("UPDATE ledger_postings SET amount = amount + 1 WHERE id = :posting", {"rule 1", "rule 6", "rule 8"}),
        ("UPDATE ledger_entries SET memo = 'changed' WHERE id = :entry", {"rule 8"}),
        ("UPDATE ledger_balances SET balance = balance + 5 WHERE account_id = :account", {"rule 2", "rule 6"}),
    ],
    ids=["posting", "entry-memo", "stored-balance"],
)
def test_a_change_by_hand_after_the_last_check_is_caught_and_the_checkpoint_stays(app, session, tamper, rules):
    earn_some(session, 3)
    assert verify_cli(app).exit_code == 0
    before = checkpoints(session)
    [entry] = earn_some(session, 1)
    posting, account = session.execute(
        select(Posting.id, Posting.account_id).where(Posting.entry_id == entry, Posting.amount > 0).limit(1)
    ).one()
    session.execute(text(tamper), {"posting": posting, "entry": entry, "account": account})
    session.commit()

    result = verify_cli(app, "--since-last")

    assert result.exit_code == 1, result.output
    found = {
        line.split(" (")[0].removeprefix("VIOLATION ") for line in result.output.splitlines() if "VIOLATION" in line
    }
    assert rules <= found, result.output
    assert checkpoints(session) == before


def test_a_stored_balance_edited_on_an_account_nothing_moved_is_caught(app, session):
    earn_some(session, 3)
    assert verify_cli(app).exit_code == 0
    quiet = accounts.find_account(session, "member:since-0", "PTS")
    session.execute(text("UPDATE ledger_balances SET balance = balance + 1 WHERE account_id = :a"), {"a": quiet.id})
    session.commit()

    result = verify_cli(app, "--since-last")

    assert result.exit_code == 1
    assert "VIOLATION rule 2 (assets sum to zero)" in result.output


def test_an_old_row_edited_in_place_is_the_full_checks_job(app, session):
    """What the incremental check does not see, said by a test: a row below the checkpoint."""
    [first, *_] = earn_some(session, 3)
    assert verify_cli(app).exit_code == 0
    session.execute(text("UPDATE ledger_entries SET memo = 'changed' WHERE id = :e"), {"e": first})
    session.commit()

    assert verify_cli(app, "--since-last").exit_code == 0
    full = verify_cli(app)
    assert full.exit_code == 1
    assert "VIOLATION rule 8" in full.output


class RowsRead:
    """Rows that statements reading ledger_postings or ledger_entries returned, and how many statements."""

    def __init__(self, session: Session):
        self.rows = self.statements = 0
        event.listen(session, "do_orm_execute", self._count)

    def _count(self, state):
        if not state.is_select:
            return None
        sql = str(state.statement)
        if "ledger_postings" not in sql and "ledger_entries" not in sql:
            return None
        frozen = state.invoke_statement().freeze()
        self.statements += 1
        self.rows += len(frozen().all())
        return frozen()


def test_since_last_reads_the_new_rows_not_the_journal(app, session):
    journal, new = 300, 3
    earn_some(session, journal, members=50)
    full = ledger.verify(session)
    assert full.ok, full.violations
    assert ledger.save_verify_checkpoint(session, full, now=utcnow())
    session.commit()
    earn_some(session, new, members=50)

    read = RowsRead(session)
    report = ledger.verify_since_last(session)

    assert report.ok, report.violations
    assert (report.since_checkpoint, report.sealed, report.entries) == (checkpoints(session)[0][0], new, new)
    # Each new entry has 4 postings; the chain, the log and the rules each read them once.
    assert read.rows <= 3 * new * (1 + 4) + 10, read.rows
    assert read.statements <= 20, read.statements
    journal_rows = journal * (1 + 4)
    assert read.rows < journal_rows / 20


def test_two_incremental_checks_from_one_checkpoint_save_once(session):
    """The second would add the same new postings to the sums again: it is refused."""
    earn_some(session, 2)
    full = ledger.verify(session)
    assert ledger.save_verify_checkpoint(session, full, now=utcnow())
    session.commit()
    earn_some(session, 2)
    first, second = ledger.verify_since_last(session), ledger.verify_since_last(session)
    session.rollback()

    assert ledger.save_verify_checkpoint(session, first, now=utcnow())
    session.commit()
    assert not ledger.save_verify_checkpoint(session, second, now=utcnow())
    session.commit()
    assert ledger.verify_since_last(session).ok
    assert [seq for _, seq, _ in checkpoints(session)] == [2, 4]


def test_a_report_with_violations_saves_no_checkpoint(session):
    earn_some(session, 2)
    session.execute(text("UPDATE ledger_balances SET balance = balance + 1 WHERE shard = 0 AND account_id = 1"))
    session.commit()
    report = ledger.verify(session)

    assert not report.ok
    assert not ledger.save_verify_checkpoint(session, report, now=utcnow())
    session.commit()
    assert checkpoints(session) == []
