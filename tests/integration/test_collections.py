"""Statements collected through Stripe: the collection each statement opens, the
``collect-statements`` job on localstripe, dunning and the ledger's cash entry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.settlement.models import Collection
from tests.factories.orders import record_order
from tests.integration.test_settlement import assert_ledger_ok, issue


def collection_row(engine, statement_id: str) -> Collection | None:
    with Session(engine) as session:
        return session.execute(
            select(Collection).where(Collection.statement_id == int(statement_id))
        ).scalar_one_or_none()


def test_a_statement_the_merchant_owes_opens_a_pending_collection_of_its_net(client, engine, admin_headers, merchant):
    assert record_order(client, merchant["headers"], amount_cents=30_000).status_code == 201

    statement = issue(client, admin_headers, merchant).get_json()

    net_cents = statement["lines"][0]["net_cents"]
    assert net_cents > 0
    assert statement["collection"] == {"status": "pending", "stripe_payment_intent_id": None, "amount_cents": net_cents}
    row = collection_row(engine, statement["id"])
    assert (row.status, row.amount_cents, row.currency, row.attempts) == ("pending", net_cents, "EUR", 0)
    assert_ledger_ok(engine)


def test_a_statement_with_nothing_owed_needs_no_collection(client, engine, admin_headers, merchant):
    statement = issue(client, admin_headers, merchant).get_json()

    assert statement["collection"] == {"status": "not_needed", "stripe_payment_intent_id": None, "amount_cents": 0}
    assert collection_row(engine, statement["id"]) is None
