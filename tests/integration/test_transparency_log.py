"""The transparency log over HTTP: signed heads, inclusion and consistency proofs that an
outside verifier (partner_sdk's pure functions) accepts, a party's own entries only, and
tampering or a rewritten history caught by the proofs and by `ledger verify`.

Tampering writes to the journal, so these tests run on a database of their own.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, text, update

import ledger
from app import unit_of_work
from ledger.models import LogState, Seal, TreeNode
from partner_sdk.transparency import leaf_hash, verify_consistency, verify_inclusion
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.merchants import auth, create_merchant
from tests.factories.orders import record_order

OPERATOR = auth(ADMIN_KEY)


@pytest.fixture(scope="module")
def log_app(databases):
    application = make_app(databases.new())
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="module")
def log_client(log_app):
    return log_app.test_client()


@pytest.fixture(scope="module")
def shops(log_client) -> tuple[dict, dict]:
    """Two merchants with five orders each, all sealed under a signed head."""
    first, second = create_merchant(log_client, OPERATOR), create_merchant(log_client, OPERATOR)
    for shop in (first, second):
        for _ in range(5):
            assert record_order(log_client, shop["headers"]).status_code == 201
    sign(log_client)
    return first, second


def sign(client) -> dict:
    answer = client.post("/v1/ledger/tree-heads", headers=OPERATOR)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def public_key(client, key_id: str) -> str:
    keys = client.get("/v1/ledger/public-keys", headers=OPERATOR).get_json()["data"]
    return next(k["public_key"] for k in keys if k["key_id"] == key_id)


def own_entries(client, headers) -> list[dict]:
    found, after = [], -1
    while True:
        page = client.get(f"/v1/ledger/entries?after={after}&limit=3", headers=headers).get_json()
        found += page["data"]
        if page["next_cursor"] is None:
            return found
        after = int(page["next_cursor"])


def proof_verifies(client, headers, entry_id: str, head: dict) -> bool:
    answer = client.get(f"/v1/ledger/entries/{entry_id}/proof?tree_size={head['tree_size']}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    proof = answer.get_json()
    canonical = base64.b64decode(proof["canonical"])
    return leaf_hash(canonical) == proof["leaf_hash"] and verify_inclusion(
        proof["leaf_index"], proof["tree_size"], proof["leaf_hash"], proof["proof"], head["root_hash"]
    )


def test_the_newest_head_is_signed_by_a_published_key(log_client, shops):
    head = log_client.get("/v1/ledger/tree-head", headers=shops[0]["headers"]).get_json()

    assert head["tree_size"] >= 10
    message = f"v1:{head['tree_size']}:{head['timestamp']}:{head['root_hash']}".encode("ascii")
    assert ledger.signature_valid(public_key(log_client, head["key_id"]), message, head["signature"])
    assert not ledger.signature_valid(public_key(log_client, head["key_id"]), message + b"0", head["signature"])


def test_each_merchant_proves_every_entry_of_its_own_and_reads_its_amounts(log_client, shops):
    head = log_client.get("/v1/ledger/tree-head", headers=OPERATOR).get_json()
    for shop in shops:
        entries = own_entries(log_client, shop["headers"])
        assert len(entries) == 5
        assert [e["leaf_index"] for e in entries] == sorted(e["leaf_index"] for e in entries)
        for logged in entries:
            fields = json.loads(base64.b64decode(logged["canonical"]))
            assert f"merchant:{shop['id']}:receivable" in [p[0] for p in fields["postings"]]
            assert fields["id"] == int(logged["entry"]["id"])
            assert proof_verifies(log_client, shop["headers"], logged["entry"]["id"], head)


def test_a_merchant_gets_no_proof_nor_entry_of_another_merchant(log_client, shops):
    first, second = shops
    theirs = own_entries(log_client, second["headers"])

    for logged in theirs:
        answer = log_client.get(f"/v1/ledger/entries/{logged['entry']['id']}/proof", headers=first["headers"])
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    mine = {e["entry"]["id"] for e in own_entries(log_client, first["headers"])}
    assert mine.isdisjoint({e["entry"]["id"] for e in theirs})
    everything = {e["entry"]["id"] for e in own_entries(log_client, OPERATOR)}
    assert mine | {e["entry"]["id"] for e in theirs} <= everything


def test_every_pair_of_heads_is_consistent(log_client, shops):
    for _ in range(3):
        assert record_order(log_client, shops[0]["headers"]).status_code == 201
        sign(log_client)
    heads = log_client.get("/v1/ledger/tree-heads?limit=200", headers=OPERATOR).get_json()["data"]
    assert len(heads) >= 4
    for old in heads:
        for new in heads:
            if old["tree_size"] > new["tree_size"]:
                continue
            url = f"/v1/ledger/consistency?first={old['tree_size']}&second={new['tree_size']}"
            proof = log_client.get(url, headers=shops[1]["headers"]).get_json()["proof"]
            assert verify_consistency(old["tree_size"], new["tree_size"], old["root_hash"], new["root_hash"], proof), (
                old,
                new,
            )


def test_proof_routes_refuse_sizes_outside_the_log(log_client, shops):
    size = log_client.get("/v1/ledger/tree-head", headers=OPERATOR).get_json()["tree_size"]
    entry_id = own_entries(log_client, shops[0]["headers"])[0]["entry"]["id"]

    for url in (
        f"/v1/ledger/consistency?first=1&second={size + 1}",
        "/v1/ledger/consistency?first=3&second=2",
        "/v1/ledger/consistency?first=-1&second=2",
        f"/v1/ledger/entries/{entry_id}/proof?tree_size={size + 1}",
        f"/v1/ledger/entries/{entry_id}/proof?tree_size=0",
        "/v1/ledger/entries?after=-2",
        "/v1/ledger/entries?limit=501",
    ):
        answer = log_client.get(url, headers=shops[0]["headers"])
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", url


def test_a_statement_names_its_head_and_entries_whose_amounts_sum_to_its_net(log_client, shops):
    shop = shops[0]
    issued = log_client.post(
        f"/v1/merchants/{shop['id']}/statements",
        json={"period_end": datetime.now(UTC).isoformat()},
        headers=OPERATOR,
    )
    assert issued.status_code == 201, issued.get_json()
    statement = issued.get_json()
    head = statement["log"]["tree_head"]
    by_leaf = {e["leaf_index"]: e for e in own_entries(log_client, shop["headers"])}
    shown = log_client.get(f"/v1/statements/{statement['id']}", headers=shop["headers"]).get_json()

    assert shown["log"] == statement["log"]
    assert len(statement["log"]["leaf_indexes"]) == 8 and head["tree_size"] > max(statement["log"]["leaf_indexes"])
    net_cents = 0
    for leaf in statement["log"]["leaf_indexes"]:
        entry_id = by_leaf[leaf]["entry"]["id"]
        assert proof_verifies(log_client, shop["headers"], entry_id, head)
        postings = json.loads(base64.b64decode(by_leaf[leaf]["canonical"]))["postings"]
        owed = (f"merchant:{shop['id']}:receivable", f"merchant:{shop['id']}:payable")
        net_cents -= sum(amount for account, _asset, amount in postings if account in owed)
    assert net_cents == statement["lines"][0]["net_cents"] > 0


def test_a_changed_posting_fails_its_proof_and_verify_names_the_entry(log_app, log_client, shops):
    shop = shops[0]
    head = log_client.get("/v1/ledger/tree-head", headers=OPERATOR).get_json()
    victim = own_entries(log_client, shop["headers"])[0]
    entry_id = int(victim["entry"]["id"])

    double = "UPDATE ledger_postings SET amount = amount * 2 WHERE entry_id = :e"
    halve = "UPDATE ledger_postings SET amount = amount / 2 WHERE entry_id = :e"
    execute(log_app, double, e=entry_id)
    assert not proof_verifies(log_client, shop["headers"], victim["entry"]["id"], head)
    report = _verify(log_app)
    assert any(f"entry {entry_id} (leaf {victim['leaf_index']})" in str(v) for v in report.violations)

    execute(log_app, halve, e=entry_id)
    assert proof_verifies(log_client, shop["headers"], victim["entry"]["id"], head)
    assert _verify(log_app).ok


def execute(log_app, sql: str, **params) -> None:
    """Write to the database behind the platform's back (client calls stay outside this app context)."""
    with log_app.app_context(), unit_of_work.unit() as uow:
        uow.session.execute(text(sql), params)
        uow.commit(1)


def _verify(log_app) -> ledger.Report:
    with log_app.app_context(), unit_of_work.unit(read_only=True) as uow:
        return ledger.verify(uow.session)


def test_a_rewritten_history_signs_heads_inconsistent_with_the_old_ones(log_app, log_client, shops):
    old = log_client.get("/v1/ledger/tree-head", headers=OPERATOR).get_json()
    victim = own_entries(log_client, shops[1]["headers"])[0]

    with log_app.app_context(), unit_of_work.unit() as uow:
        forge(uow, int(victim["entry"]["id"]))
        uow.commit(1)
    assert record_order(log_client, shops[1]["headers"]).status_code == 201
    new = sign(log_client)
    proof = log_client.get(
        f"/v1/ledger/consistency?first={old['tree_size']}&second={new['tree_size']}", headers=OPERATOR
    ).get_json()["proof"]

    assert not verify_consistency(old["tree_size"], new["tree_size"], old["root_hash"], new["root_hash"], proof)
    assert proof_verifies(log_client, shops[1]["headers"], victim["entry"]["id"], new)
    assert any("does not match the journal's root" in str(v) for v in _verify(log_app).violations)


def forge(uow, entry_id: int) -> None:
    """What a dishonest operator would do: change a posting, then rebuild the whole tree over the changed journal."""
    session = uow.session
    for sign_sql in ("amount + 1 WHERE amount > 0", "amount - 1 WHERE amount < 0"):
        session.execute(text(f"UPDATE ledger_postings SET amount = {sign_sql} AND entry_id = :e"), {"e": entry_id})
    session.execute(update(Seal).values(leaf_hash=None))
    session.execute(delete(TreeNode))
    session.execute(update(LogState).values(tree_size=0))
    ledger.seal(session)
