"""The idempotency record is written once, with its answer, at commit: a claim writes
nothing, and a record that appears meanwhile turns our work into the replay."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

import ledger
from app.unit_of_work import IdempotencyKeyReused, UnitOfWork
from ledger.models import IdempotencyRecord
from tests.conftest import BACKEND
from tests.factories.names import unique
from tests.factories.orders import record_order


def records(engine, scope: str, key: str) -> list[tuple[str, str | None]]:
    with Session(engine) as s:
        found = select(IdempotencyRecord.request_hash, IdempotencyRecord.result).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
        return [tuple(row) for row in s.execute(found)]


def test_an_order_writes_its_idempotency_record_once_with_the_answer(app, client, engine, merchant):
    writes = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")) and "ledger_idempotency" in statement:
            writes.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        order_id = unique("once")
        answered = record_order(client, merchant["headers"], order_id=order_id, amount_cents=4500)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert answered.status_code == 201
    assert writes == ["INSERT"]
    [(_hash, stored)] = records(engine, f"orders:{merchant['id']}", order_id)
    assert stored is not None and '"points_earned": 30' in stored


def test_a_claim_that_is_rolled_back_leaves_no_record(app, engine):
    scope, key = "test", unique("k")
    with app.app_context(), Session(engine) as session:
        uow = UnitOfWork(session)
        assert uow.once(scope, key, {"a": 1}) is None
        uow.discard()

    assert records(engine, scope, key) == []


@pytest.mark.postgres_only
def test_a_record_answered_meanwhile_makes_commit_return_it_and_keep_nothing_of_ours(app, engine):
    if BACKEND == "sqlite":
        pytest.skip("SQLite has one writer at a time: nothing can answer the key while our unit holds it")
    scope, key = "test", unique("k")
    fingerprint = ledger.request_fingerprint({"a": 1})
    with app.app_context(), Session(engine) as session:
        uow = UnitOfWork(session)
        assert uow.once(scope, key, {"a": 1}) is None
        session.execute(text("CREATE TEMPORARY TABLE IF NOT EXISTS ours (x int)"))
        session.execute(text("INSERT INTO ours VALUES (1)"))
        with engine.begin() as other:  # a writer that did not wait on the claim's lock
            other.execute(
                text(
                    "INSERT INTO ledger_idempotency (scope, key, request_hash, result, created_at) "
                    "VALUES (:s, :k, :h, :r, now())"
                ),
                {"s": scope, "k": key, "h": fingerprint, "r": '{"answer": "theirs"}'},
            )

        answer = uow.commit({"answer": "ours"})

        assert answer == {"answer": "theirs"}
        assert uow.replayed
        assert session.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'ours'")).scalar_one() == 0
    assert records(engine, scope, key) == [(fingerprint, '{"answer": "theirs"}')]


@pytest.mark.postgres_only
def test_a_record_of_another_request_answered_meanwhile_makes_commit_refuse_the_key(app, engine):
    if BACKEND == "sqlite":
        pytest.skip("SQLite has one writer at a time: nothing can answer the key while our unit holds it")
    scope, key = "test", unique("k")
    with app.app_context(), Session(engine) as session:
        uow = UnitOfWork(session)
        assert uow.once(scope, key, {"a": 1}) is None
        with engine.begin() as other:
            other.execute(
                text(
                    "INSERT INTO ledger_idempotency (scope, key, request_hash, result, created_at) "
                    "VALUES (:s, :k, 'another', '{}', now())"
                ),
                {"s": scope, "k": key},
            )

        with pytest.raises(IdempotencyKeyReused):
            uow.commit({"answer": "ours"})
    with Session(engine) as s:
        count = select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == key)
        assert s.execute(count).scalar_one() == 1
