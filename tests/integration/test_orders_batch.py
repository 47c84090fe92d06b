"""POST /v1/orders/batch: many orders in one request, each answered as its own POST."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
import ledger.types
from app.orders.models import Order
from app.webhooks.models import WebhookEvent
from ledger.models import Entry, IdempotencyRecord, Lot, Posting
from tests.conftest import BACKEND
from tests.factories.affiliates import build_world
from tests.factories.campaigns import start_campaign
from tests.factories.names import unique, unique_email
from tests.factories.orders import order_body, record_order
from tests.factories.webhooks import register_endpoint
from tests.integration.test_concurrency import run_together

BATCH = "/v1/orders/batch"


def send(client, merchant, orders):
    return client.post(BATCH, json={"orders": orders}, headers=merchant["headers"])


def results(client, merchant, orders) -> list[dict]:
    response = send(client, merchant, orders)
    assert response.status_code == 200, response.get_json()
    found = response.get_json()["results"]
    named = [o.get("order_id") if isinstance(o, dict) else None for o in orders]
    assert [r["order_id"] for r in found] == [n if isinstance(n, str) else None for n in named]
    return found


def counts(engine) -> tuple[int, int, int, int]:
    with Session(engine) as s:
        return tuple(
            s.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Entry, Posting, Order, IdempotencyRecord)
        )


def entries_of(engine, merchant, order_id) -> list[tuple]:
    """The order's entries without ids and times: kind, memo, ref and postings' accounts and amounts."""
    with Session(engine) as s:
        entries = s.execute(
            select(Entry).where(Entry.idempotency_key.like(f"earn:{merchant['id']}:{order_id}%")).order_by(Entry.id)
        ).scalars()
        found = []
        for entry in entries:
            postings = s.execute(select(Posting.account_id, Posting.amount).where(Posting.entry_id == entry.id))
            lot = s.execute(select(Lot.points, Lot.value_cents).where(Lot.entry_id == entry.id)).one()
            found.append((entry.kind, entry.memo, sorted(postings.all()), tuple(lot)))
        return found


def without_ids(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("order_id", "created_at")}


def test_a_mixed_batch_answers_each_order_as_its_own_post(client, merchant, engine):
    recorded = order_body(amount_cents=4599)
    assert record_order(client, merchant["headers"], **recorded).status_code == 201
    conflicting = {**recorded, "amount_cents": 9000}
    fresh = order_body(amount_cents=27400)
    invalid = {**order_body(), "amount_cents": "lots"}
    usd = order_body(currency="USD")
    replay = client.post("/v1/orders", json=recorded, headers=merchant["headers"])

    found = results(
        client, merchant, [fresh, recorded, conflicting, invalid, usd, "not an object", None, {"order_id": 3}]
    )

    assert [r["status"] for r in found] == [201, 200, 409, 422, 422, 422, 422, 422]
    assert found[1]["body"] == replay.get_json()
    assert found[2]["body"] == client.post("/v1/orders", json=conflicting, headers=merchant["headers"]).get_json()
    assert found[3]["body"] == client.post("/v1/orders", json=invalid, headers=merchant["headers"]).get_json()
    assert found[4]["body"] == client.post("/v1/orders", json=usd, headers=merchant["headers"]).get_json()
    for alone, answered in zip(["not an object", {"order_id": 3}], [found[5], found[7]], strict=True):
        assert answered["body"] == client.post("/v1/orders", json=alone, headers=merchant["headers"]).get_json()
    assert found[0]["body"]["points_earned"] == 180
    assert found[0]["body"]["points_balance"] == 180


def test_a_batch_order_answers_what_a_single_post_answers(client, new_merchant, engine):
    """The same orders through both paths (on two merchants alike) give the same answers,
    the same entries and the same webhook events."""
    single, batched = new_merchant(), new_merchant()
    for shop in (single, batched):
        assert register_endpoint(client, shop["headers"], url="http://127.0.0.1:9/hooks").status_code == 201
    lines = [{"sku": "a", "category": "shoes", "quantity": 1, "amount_cents": 3000}]

    def orders(email: str, nobody: str) -> list[dict]:
        return [
            order_body(amount_cents=4599, member_email=email),
            order_body(amount_cents=3000, member_email=email, lines=lines),
            order_body(amount_cents=1000, member_email=nobody),  # earns nothing: figures hidden
            order_body(amount_cents=27400, member_email=email.upper()),
        ]

    bodies = orders(unique_email(), unique_email())
    one_by_one = [client.post("/v1/orders", json=b, headers=single["headers"]).get_json() for b in bodies]
    found = results(client, batched, orders(unique_email(), unique_email()))

    assert [r["status"] for r in found] == [201] * 4
    for alone, in_batch in zip(one_by_one, found, strict=True):
        assert without_ids(in_batch["body"]) == {**without_ids(alone), "member_id": in_batch["body"]["member_id"]}
    assert found[2]["body"]["points_balance"] is None
    assert [r["body"]["points_balance"] for r in found] == [30, 50, None, 230]
    for alone, in_batch in zip(bodies, found, strict=True):
        mine, theirs = entries_of(engine, single, alone["order_id"]), entries_of(engine, batched, in_batch["order_id"])
        assert [(len(p), lot) for _k, _m, p, lot in mine] == [(len(p), lot) for _k, _m, p, lot in theirs]
        assert [m.replace(alone["order_id"], "") for _k, m, _p, _l in mine] == [
            m.replace(in_batch["order_id"], "").replace(batched["name"], single["name"]) for _k, m, _p, _l in theirs
        ]
    assert [len(entries_of(engine, batched, r["order_id"])) for r in found] == [1, 1, 0, 1]
    with Session(engine) as s:
        for shop in (single, batched):
            events = s.execute(
                select(WebhookEvent.body)
                .where(WebhookEvent.owner_kind == "merchant", WebhookEvent.owner_id == int(shop["id"]))
                .order_by(WebhookEvent.id)
            ).scalars()
            datas = [json.loads(e)["data"] for e in events]
            assert [d["points_earned"] for d in datas] == [30, 20, 0, 180]


def test_an_order_id_named_twice_is_answered_as_two_posts_in_a_row(client, merchant, engine):
    body = order_body(amount_cents=4599)
    other = {**body, "amount_cents": 9000}
    before = counts(engine)

    found = results(client, merchant, [body, body, other])

    assert [r["status"] for r in found] == [201, 200, 409]
    assert found[1]["body"] == found[0]["body"]
    assert found[2]["body"]["type"] == "/problems/idempotency-conflict"
    assert counts(engine)[2] == before[2] + 1


@pytest.mark.parametrize(
    "payload",
    [
        {"orders": [order_body() for _ in range(501)]},
        {"orders": []},
        {"orders": {"order_id": "x"}},
        {"orders": "all of them"},
        {"orders": [order_body()], "extra": 1},
        [order_body()],
    ],
)
def test_a_batch_refused_as_a_whole_writes_nothing(client, merchant, engine, payload):
    before = counts(engine)

    response = client.post(BATCH, json=payload, headers=merchant["headers"])

    assert response.status_code in (413, 422)
    assert response.mimetype == "application/problem+json"
    assert counts(engine) == before


def test_500_orders_fit_one_batch(client, merchant, engine):
    orders = [order_body(amount_cents=1500, member_email=f"m{i % 50}.{unique('b')}@batch.example") for i in range(500)]

    found = results(client, merchant, orders)

    assert {r["status"] for r in found} == {201}
    with Session(engine) as s:
        assert ledger.verify(s).violations == []


def test_an_order_of_a_member_in_debt_repays_the_debt_first(client, merchant, session):
    email = unique_email()
    placed = record_order(client, merchant["headers"], amount_cents=4599, member_email=email).get_json()
    now = ledger.types.utcnow()
    hold = ledger.place_hold(
        session, member_key=placed["member_id"], points=25, idempotency_key=unique("h"), ref="t", now=now, timeout_s=60
    )
    ledger.post_hold(session, hold.id, now=now)
    session.commit()
    refund = {"refund_id": unique("r"), "amount_cents": 4599}
    refunded = client.post(f"/v1/orders/{placed['order_id']}/refunds", json=refund, headers=merchant["headers"])
    assert refunded.get_json()["points_debt"] == 25

    found = results(
        client,
        merchant,
        [order_body(amount_cents=3000, member_email=email), order_body(amount_cents=1500, member_email=email)],
    )

    figures = [(r["body"]["points_earned"], r["body"]["points_balance"], r["body"]["points_debt"]) for r in found]
    assert figures == [(20, 0, 5), (10, 5, 0)]
    assert ledger.verify(session).violations == []


def test_orders_with_a_return_window_earn_incoming_points(client, new_merchant, session):
    shop = new_merchant(points_pending_days=14)
    email = unique_email()

    found = results(
        client,
        shop,
        [order_body(amount_cents=4599, member_email=email), order_body(amount_cents=1500, member_email=email)],
    )

    bodies = [r["body"] for r in found]
    assert [(b["points_balance"], b["points_incoming"]) for b in bodies] == [(0, 30), (0, 40)]
    assert all(b["points_available_at"] is not None for b in bodies)
    single = record_order(client, shop["headers"], amount_cents=1500, member_email=email).get_json()
    assert (single["points_incoming"], single["points_available_at"] is not None) == (50, True)
    assert ledger.verify(session).violations == []


def test_a_batch_order_replays_through_a_single_post_and_the_reverse(client, merchant):
    batched, single = order_body(amount_cents=4599), order_body(amount_cents=3000)
    first = results(client, merchant, [batched])[0]
    alone = client.post("/v1/orders", json=single, headers=merchant["headers"])

    again = client.post("/v1/orders", json=batched, headers=merchant["headers"])
    found = results(client, merchant, [single, {**batched, "amount_cents": 1}])

    assert (again.status_code, again.get_json()) == (200, first["body"])
    assert [r["status"] for r in found] == [200, 409]
    assert found[0]["body"] == alone.get_json()


@pytest.mark.skipif(BACKEND != "postgresql", reason="row locks and deadlocks are PostgreSQL's")
def test_8_concurrent_batches_and_single_orders_for_the_same_members_end_exact(app, merchant, engine):
    emails = [unique_email() for _ in range(12)]
    batches = [
        [order_body(amount_cents=1500 * (1 + (i + j) % 3), member_email=emails[(i * 5 + j) % 12]) for j in range(40)]
        for i in range(8)
    ]
    singles = [order_body(amount_cents=1500, member_email=emails[i % 12]) for i in range(16)]

    def work(i):
        client = app.test_client()
        if i < 8:
            return send(client, merchant, batches[i])
        return client.post("/v1/orders", json=singles[i - 8], headers=merchant["headers"])

    responses = run_together(24, work)

    assert [r.status_code for r in responses[:8]] == [200] * 8
    assert [r.status_code for r in responses[8:]] == [201] * 16
    assert {res["status"] for r in responses[:8] for res in r.get_json()["results"]} == {201}
    expected = {email: 0 for email in emails}
    for order in [o for b in batches for o in b] + singles:
        expected[order["member_email"]] += order["amount_cents"] // 1500 * 10
    client = app.test_client()
    for email, points in expected.items():
        found = client.get("/v1/members", query_string={"email": email}, headers=merchant["headers"]).get_json()
        assert found["data"][0]["points_balance"] == points
    with Session(engine) as s:
        earns = s.execute(
            select(func.count(Entry.id)).where(Entry.idempotency_key.like(f"earn:{merchant['id']}:%"))
        ).scalar_one()
        assert earns == 8 * 40 + 16
        assert ledger.verify(s).violations == []


def test_a_batch_may_be_larger_than_a_single_orders_body_limit(client, merchant):
    lines = [{"sku": f"sku-{n:03d}", "category": "shoes", "quantity": 1, "amount_cents": 1500} for n in range(4)]
    orders = [order_body(amount_cents=6000, lines=lines) for _ in range(200)]
    assert len(json.dumps({"orders": orders})) > 64 * 1024

    found = results(client, merchant, orders)

    assert {r["status"] for r in found} == {201}


def test_a_batch_body_beyond_its_limit_is_refused_whole(client, merchant, engine):
    before = counts(engine)
    padding = "x" * (2 * 1024 * 1024)

    response = client.post(BATCH, json={"orders": [order_body(sku=padding)]}, headers=merchant["headers"])

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert counts(engine) == before


def test_a_batch_answer_counts_the_points_a_member_has_incoming_elsewhere(client, new_merchant):
    waiting, plain = new_merchant(points_pending_days=14), new_merchant()
    email = unique_email()
    record_order(client, waiting["headers"], amount_cents=4599, member_email=email)

    found = results(client, plain, [order_body(amount_cents=1500, member_email=email)])
    single = record_order(client, plain["headers"], amount_cents=1500, member_email=email).get_json()

    assert (found[0]["body"]["points_incoming"], found[0]["body"]["points_balance"]) == (30, 10)
    assert (single["points_incoming"], single["points_balance"]) == (30, 20)


def test_an_order_with_a_click_token_earns_its_commission_as_a_single_post_does(client, admin_headers, new_merchant):
    world = build_world(client, admin_headers, new_merchant)
    alone = record_order(client, world.merchant["headers"], click_token=world.click(client), amount_cents=12_345)

    found = results(
        client,
        world.merchant,
        [order_body(click_token=world.click(client), amount_cents=12_345), order_body(amount_cents=12_345)],
    )

    single = alone.get_json()
    assert [r["status"] for r in found] == [201, 201]
    commission = found[0]["body"]["commission"]
    assert {k: v for k, v in commission.items() if k != "id"} == {
        k: v for k, v in single["commission"].items() if k != "id"
    }
    assert found[0]["body"]["attribution_error"] is None
    assert (found[1]["body"]["commission"], found[1]["body"]["attribution_error"]) == (None, None)


def test_orders_of_a_merchant_running_a_campaign_get_its_bonus_in_a_batch(client, merchant):
    start_campaign(client, merchant["headers"], budget_points=70)
    email = unique_email()

    found = results(client, merchant, [order_body(amount_cents=4599, member_email=email) for _ in range(3)])

    assert [r["status"] for r in found] == [201] * 3
    assert [[b["points"] for b in r["body"]["bonuses"]] for r in found] == [
        [30],
        [30],
        [10],
    ]  # what is left of the budget
    assert [r["body"]["points_total"] for r in found] == [60, 60, 40]
    assert found[-1]["body"]["points_balance"] == 160


@pytest.fixture
def quiet(databases):
    """A database of its own, without the coalition campaigns or tiers other tests
    leave in the shared one (with any, every order takes the single path)."""
    from tests.conftest import ADMIN_KEY, make_app
    from tests.factories.merchants import auth, create_merchant

    application = make_app(databases.new())
    client = application.test_client()
    yield client, create_merchant(client, auth(ADMIN_KEY))
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def test_an_order_recorded_by_a_concurrent_post_after_the_batch_read_its_records_is_replayed(quiet, monkeypatch):
    """The race the batch cannot see: a single POST commits one of its orders between
    the batch's read of the idempotency records and its writes. The batch is done
    again, and answers that order as the replay it now is."""
    client, merchant = quiet
    raced, fresh = order_body(amount_cents=4599), order_body(amount_cents=3000)
    alone = client.post("/v1/orders", json=raced, headers=merchant["headers"]).get_json()
    real = ledger.find_requests
    reads = []

    def read_before_the_concurrent_commit(session, scope, keys):
        reads.append(keys)
        return {} if len(reads) == 1 else real(session, scope, keys)

    monkeypatch.setattr(ledger, "find_requests", read_before_the_concurrent_commit)

    found = results(client, merchant, [fresh, raced])

    assert len(reads) == 2
    assert [r["status"] for r in found] == [201, 200]
    assert found[1]["body"] == alone
