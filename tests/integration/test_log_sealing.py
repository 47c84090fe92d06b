"""Sealing by watermark: new entries only, late commits below the watermark still sealed,
rolled-back ids forgotten; seals from before the log get their leaves; keys rotate.

Each test works on a database of its own, so that sizes and gaps are its own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.orm import Session

import ledger
from ledger import chain
from ledger.models import Entry, LogState, Seal, SealGap, TreeNode
from ledger.types import utcnow
from tests import rfc9162
from tests.conftest import BACKEND

ISSUER = ledger.Issuer(key="1", currency="EUR", price_per_1000_points_cents=500)
SIGNER = ledger.Signer(bytes(range(32)))


@pytest.fixture
def engine(databases):
    url = databases.new()
    made = create_engine(url)
    if BACKEND == "sqlite":
        from app.unit_of_work import configure_sqlite

        configure_sqlite(made)
    yield made
    made.dispose()


def earn(session: Session, key: str, issuer: ledger.Issuer = ISSUER) -> None:
    ledger.earn(
        session,
        member_key=key,
        issuer=issuer,
        points=10,
        idempotency_key=f"earn:{key}",
        ref=f"order:1:{key}",
        now=utcnow(),
        lifetime_days=365,
    )


def earn_committed(engine, *keys: str) -> None:
    with Session(engine) as session:
        for key in keys:
            earn(session, key)
        session.commit()


def seal_all(engine) -> int:
    with Session(engine) as session:
        total = 0
        while sealed := ledger.seal(session):
            total += sealed
        session.commit()
        return total


def counts(engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        entries = session.execute(select(func.count(Entry.id))).scalar_one()
        seals = session.execute(select(func.count(Seal.seq))).scalar_one()
        return entries, seals, ledger.tree_size(session)


def test_sealing_takes_every_entry_into_the_tree_once_and_the_root_is_rfc_9162s(engine):
    earn_committed(engine, *(f"m{i}" for i in range(7)))
    assert seal_all(engine) == 7
    earn_committed(engine, "m7", "m8")
    assert seal_all(engine) == 2
    assert seal_all(engine) == 0

    with Session(engine) as session:
        assert counts(engine) == (9, 9, 9)
        logged = ledger.party_entries(session, None, after=-1, limit=100)
        assert ledger.root_hash(session, 9) == rfc9162.mth([e.canonical for e in logged]).hex()
        assert ledger.verify(session).ok


def test_a_seal_run_reads_the_same_statements_however_long_the_journal(engine):
    def statements_to_seal(run: str, new: int) -> int:
        earn_committed(engine, *(f"{run}-{i}" for i in range(new)))
        seen = []
        listen = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            assert seal_all(engine) == new
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        return len(seen)

    statements_to_seal("first", 3)  # the very first run has no subtree to read yet
    first = statements_to_seal("short", 3)
    # 3 + 3 + 3 + 301: both measured runs start from an odd size, whose peaks span both node tables.
    earn_committed(engine, *(f"bulk{i}" for i in range(301)))
    seal_all(engine)
    assert statements_to_seal("long", 3) == first


@pytest.mark.postgres_only
def test_an_entry_committed_after_the_watermark_passed_its_id_is_sealed_later(engine):
    if BACKEND == "sqlite":
        pytest.skip("SQLite has one writer at a time: no entry can commit below the watermark")
    slow = Session(engine)
    earn(slow, "slow")  # takes the lower id, commits last
    slow.flush()
    with Session(engine) as fast:  # another issuer and currency: no row in common with the slow one
        earn(fast, "fast", ledger.Issuer(key="2", currency="USD", price_per_1000_points_cents=500))
        fast.commit()
    assert seal_all(engine) == 1
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(SealGap)).scalar_one() == 1

    slow.commit()
    slow.close()
    assert seal_all(engine) == 1
    assert counts(engine) == (2, 2, 2)
    with Session(engine) as session:
        assert ledger.verify(session).ok


def test_a_rolled_back_id_is_forgotten_once_no_transaction_can_still_commit_it(engine, monkeypatch):
    with Session(engine) as session:
        earn(session, "rolled-back")
        session.flush()
        session.rollback()
    earn_committed(engine, "kept")
    seal_all(engine)
    monkeypatch.setattr(chain, "SEAL_GAP_GRACE", timedelta(0))
    seal_all(engine)  # the next run finds the gap final

    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(SealGap)).scalar_one() == 0
    assert counts(engine)[1:] == (1, 1)


def test_seals_made_before_the_log_get_their_leaves_and_the_tree(engine):
    earn_committed(engine, "a", "b", "c", "d", "e")
    seal_all(engine)
    with Session(engine) as session:
        root = ledger.root_hash(session, 5)
        session.execute(update(Seal).values(leaf_hash=None))
        session.execute(TreeNode.__table__.delete())
        session.execute(update(LogState).values(tree_size=0))
        session.commit()

    earn_committed(engine, "f")
    assert seal_all(engine) == 1
    with Session(engine) as session:
        assert ledger.tree_size(session) == 6
        assert ledger.root_hash(session, 5) == root
        assert ledger.verify(session).ok


def test_a_new_signing_key_retires_the_old_one_whose_heads_still_verify(engine):
    newer = ledger.Signer(bytes(range(1, 33)))
    earn_committed(engine, "k1")
    seal_all(engine)
    with Session(engine) as session:
        old_head = ledger.sign_tree_head(session, SIGNER, now=utcnow())
        new_head = ledger.sign_tree_head(session, newer, now=utcnow())
        session.commit()

        keys = {k.key_id: k for k in ledger.public_keys(session)}
        assert keys[SIGNER.key_id].retired_at is not None and keys[newer.key_id].retired_at is None
        assert ledger.signature_valid(keys[SIGNER.key_id].public_key, old_head.signed_bytes, old_head.signature)
        assert ledger.signature_valid(keys[newer.key_id].public_key, new_head.signed_bytes, new_head.signature)
        assert new_head.timestamp_ms > old_head.timestamp_ms
        with pytest.raises(ledger.SigningKeyRetired):
            ledger.sign_tree_head(session, SIGNER, now=utcnow())
        assert ledger.verify(session).ok


def test_a_head_is_due_only_when_the_tree_grew_and_the_interval_passed(engine):
    earn_committed(engine, "d1")
    seal_all(engine)
    now = utcnow()
    with Session(engine) as session:
        assert ledger.sign_tree_head(session, SIGNER, now=now, min_interval_s=5) is not None
        assert ledger.sign_tree_head(session, SIGNER, now=now + timedelta(seconds=60), min_interval_s=5) is None
        session.commit()
    earn_committed(engine, "d2")
    seal_all(engine)
    with Session(engine) as session:
        assert ledger.sign_tree_head(session, SIGNER, now=now + timedelta(seconds=1), min_interval_s=5) is None
        head = ledger.sign_tree_head(session, SIGNER, now=now + timedelta(seconds=6), min_interval_s=5)
        assert head is not None and head.tree_size == 2
