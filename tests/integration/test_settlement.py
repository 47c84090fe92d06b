"""Settlement: operator payouts of approved commissions (payable -> cash, each
commission paid once) and merchant statements read from the ledger."""

from __future__ import annotations

import base64
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.affiliates.errors import AffiliateNotFound
from app.commissions.models import Commission
from app.settlement import payouts
from app.settlement.errors import NothingToPay
from app.settlement.models import Payout, Statement
from app.unit_of_work import IdempotencyKeyReused, UnitOfWork
from ledger import accounts
from ledger.models import Entry
from ledger.types import utcnow
from tests.factories.affiliates import World, build_world
from tests.factories.boutique import redeem, reward
from tests.factories.members import member_with_points
from tests.factories.merchants import auth
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_auth_and_errors import assert_problem
from tests.integration.test_concurrency import run_together
from tests.integration.test_webhook_events import events_to, subscribe, subscribe_affiliate


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    """A merchant on shop.example, an affiliate in its 8% program (10% network fee), and a link."""
    return build_world(client, admin_headers, new_merchant)


def balance(engine, name: str, currency: str = "EUR") -> int:
    with Session(engine) as session:
        found = accounts.find_account(session, name, currency)
        return 0 if found is None else accounts.balance(session, found)


def payable(engine, world: World) -> int:
    return balance(engine, accounts.affiliate_payable_account(world.affiliate["id"]))


def cash(engine) -> int:
    return balance(engine, accounts.PLATFORM_CASH)


def assert_ledger_ok(engine):
    with Session(engine) as session:
        report = ledger.verify(session)
    assert report.ok, report.violations


def approved_sale(client, world: World, amount_cents: int) -> dict:
    recorded = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=amount_cents
    )
    assert recorded.status_code == 201, recorded.get_json()
    commission_id = recorded.get_json()["commission"]["id"]
    approved = client.post(f"/v1/commissions/{commission_id}/approve", headers=world.merchant["headers"])
    assert approved.status_code == 200, approved.get_json()
    return {**approved.get_json(), "order_id": recorded.get_json()["order_id"]}


def pay(client, admin_headers, world: World, payout_id: str | None = None, **body):
    return client.post(
        f"/v1/affiliates/{world.affiliate['id']}/payouts",
        json={"payout_id": payout_id or unique("p"), "currency": "EUR", **body},
        headers=admin_headers,
    )


def statuses(engine, world: World) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.execute(
            select(Commission.id, Commission.status).where(Commission.affiliate_id == int(world.affiliate["id"]))
        ).all()
    return {str(row.id): row.status for row in rows}


# ----------------------------------------------------------------- payouts


def test_a_payout_moves_approved_commissions_from_payable_to_cash_and_marks_them_paid(
    client, engine, admin_headers, world
):
    first = approved_sale(client, world, 10_000)
    second = approved_sale(client, world, 20_000)
    pending = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]
    rejected = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]
    client.post(f"/v1/commissions/{rejected}/reject", json={"reason": "fraud"}, headers=world.merchant["headers"])
    cash_before = cash(engine)

    paid = pay(client, admin_headers, world, reference="SEPA-123")

    assert paid.status_code == 201, paid.get_json()
    body = paid.get_json()
    assert (body["amount_cents"], body["commission_count"], body["currency"]) == (2_400, 2, "EUR")
    assert (body["affiliate_id"], body["reference"]) == (world.affiliate["id"], "SEPA-123")
    assert statuses(engine, world) == {
        first["id"]: "paid",
        second["id"]: "paid",
        pending: "pending",
        rejected: "rejected",
    }
    assert payable(engine, world) == 0
    assert cash(engine) - cash_before == 2_400
    shown = client.get(f"/v1/commissions/{first['id']}", headers=world.merchant["headers"]).get_json()
    assert (shown["status"], shown["payout_id"]) == ("paid", body["id"])
    still = client.get(f"/v1/commissions/{pending}", headers=world.merchant["headers"]).get_json()
    assert still["payout_id"] is None
    with Session(engine) as session:
        linked = session.execute(select(Commission.payout_id).where(Commission.id == int(first["id"]))).scalar_one()
    assert str(linked) == body["id"]
    assert_ledger_ok(engine)


def test_pending_and_rejected_commissions_are_never_paid(client, engine, admin_headers, world):
    record_order(client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000)
    rejected = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]
    client.post(f"/v1/commissions/{rejected}/reject", json={"reason": "fraud"}, headers=world.merchant["headers"])

    refused = pay(client, admin_headers, world)

    assert_problem(refused, 422)
    assert sorted(statuses(engine, world).values()) == ["pending", "rejected"]


def test_a_payout_names_the_head_that_logged_its_entry_and_the_affiliate_proves_it(client, admin_headers, world):
    from partner_sdk.transparency import leaf_hash, verify_inclusion

    approved_sale(client, world, 20_000)
    payout = pay(client, admin_headers, world).get_json()
    head, leaves = payout["log"]["tree_head"], payout["log"]["leaf_indexes"]
    mine = client.get(f"/v1/ledger/entries?after={leaves[0] - 1}&limit=1", headers=world.affiliate["headers"])
    entry = mine.get_json()["data"][0]
    proof = client.get(
        f"/v1/ledger/entries/{entry['entry']['id']}/proof?tree_size={head['tree_size']}",
        headers=world.affiliate["headers"],
    ).get_json()

    assert len(leaves) == 1 and entry["leaf_index"] == leaves[0] and entry["entry"]["kind"] == "payout"
    assert leaf_hash(base64.b64decode(proof["canonical"])) == proof["leaf_hash"]
    assert verify_inclusion(
        proof["leaf_index"], head["tree_size"], proof["leaf_hash"], proof["proof"], head["root_hash"]
    )
    listed = client.get("/v1/affiliate/payouts?limit=200", headers=world.affiliate["headers"]).get_json()["data"]
    assert next(p for p in listed if p["id"] == payout["id"])["log"] == payout["log"]


def test_a_negative_adjustment_is_carried_and_netted_in_the_next_payout(client, engine, admin_headers, world):
    sale = approved_sale(client, world, 10_000)
    assert pay(client, admin_headers, world).get_json()["amount_cents"] == 800
    refund = client.post(
        f"/v1/orders/{sale['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 5_000},
        headers=world.merchant["headers"],
    )
    assert refund.status_code == 201, refund.get_json()
    assert payable(engine, world) == -400
    cash_before = cash(engine)

    # The affiliate owes 4 EUR: nothing is paid, and the debt stays for the next payout.
    nothing = pay(client, admin_headers, world)
    assert_problem(nothing, 422)
    assert payable(engine, world) == -400
    assert cash(engine) == cash_before
    with Session(engine) as session:
        payouts = session.execute(select(Payout).where(Payout.affiliate_id == int(world.affiliate["id"]))).all()
    assert len(payouts) == 1

    approved_sale(client, world, 20_000)
    netted = pay(client, admin_headers, world)

    assert netted.status_code == 201
    assert (netted.get_json()["amount_cents"], netted.get_json()["commission_count"]) == (1_200, 2)
    assert set(statuses(engine, world).values()) == {"paid"}
    assert payable(engine, world) == 0
    assert cash(engine) - cash_before == 1_200
    assert_ledger_ok(engine)


def test_a_replayed_payout_id_answers_the_first_payout_and_another_body_conflicts(client, engine, admin_headers, world):
    approved_sale(client, world, 10_000)
    first = pay(client, admin_headers, world, "transfer-1", reference="T1")
    approved_sale(client, world, 10_000)

    again = pay(client, admin_headers, world, "transfer-1", reference="T1")
    other = pay(client, admin_headers, world, "transfer-1", reference="T2")
    other_currency = pay(client, admin_headers, world, "transfer-1", reference="T1", currency="USD")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert_problem(other, 409)
    assert_problem(other_currency, 409)
    assert payable(engine, world) == 800
    assert_ledger_ok(engine)


def test_a_replayed_payout_makes_no_second_payout_entry_or_announcement(app, client, engine, admin_headers, world):
    endpoint = subscribe(client, world.merchant, ["commission.paid"])
    approved_sale(client, world, 10_000)
    first = pay(client, admin_headers, world, "transfer-once")
    approved_sale(client, world, 10_000)

    again = pay(client, admin_headers, world, "transfer-once")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_data() == first.get_data()
    assert payout_entries(engine, world, "transfer-once") == 1
    assert len(payouts_of(engine, world)) == 1
    assert [event for event, _ in events_to(engine, endpoint)] == ["commission.paid"]


def payout_entries(engine, world: World, payout_id: str) -> int:
    with Session(engine) as session:
        return session.execute(
            select(func.count(Entry.id)).where(Entry.idempotency_key == f"payout:a{world.affiliate['id']}:{payout_id}")
        ).scalar_one()


def payouts_of(engine, world: World) -> list[Payout]:
    with Session(engine) as session:
        query = select(Payout).where(Payout.affiliate_id == int(world.affiliate["id"])).order_by(Payout.id)
        return list(session.execute(query).scalars())


def test_the_payout_service_answers_a_replay_from_its_unit_of_work(app, client, engine, world):
    affiliate_id = int(world.affiliate["id"])
    approved_sale(client, world, 10_000)
    data = {"payout_id": unique("svc"), "currency": "EUR", "reference": "T1"}

    with app.app_context(), UnitOfWork(Session(engine)) as uow:
        first = payouts.create_payout(uow, affiliate_id, data)
        assert not uow.replayed
    approved_sale(client, world, 10_000)
    with app.app_context(), UnitOfWork(Session(engine)) as uow:
        again = payouts.create_payout(uow, affiliate_id, dict(data))
        assert uow.replayed
    with app.app_context(), UnitOfWork(Session(engine)) as uow, pytest.raises(IdempotencyKeyReused):
        payouts.create_payout(uow, affiliate_id, {**data, "reference": "T2"})

    assert again == first
    assert (first["payout_id"], first["amount_cents"], first["commission_count"]) == (data["payout_id"], 800, 1)
    assert payout_entries(engine, world, data["payout_id"]) == 1
    assert payable(engine, world) == 800
    assert_ledger_ok(engine)


def test_the_payout_service_refuses_when_nothing_is_due_and_keeps_the_key_free(app, client, engine, world):
    affiliate_id = int(world.affiliate["id"])
    data = {"payout_id": unique("svc"), "currency": "EUR", "reference": None}

    with app.app_context(), UnitOfWork(Session(engine)) as uow, pytest.raises(NothingToPay):
        payouts.create_payout(uow, affiliate_id, data)
    approved_sale(client, world, 10_000)
    with app.app_context(), UnitOfWork(Session(engine)) as uow:
        paid = payouts.create_payout(uow, affiliate_id, data)
        assert not uow.replayed

    assert paid["amount_cents"] == 800
    assert len(payouts_of(engine, world)) == 1


def test_the_payout_service_refuses_an_unknown_affiliate(app, engine):
    with UnitOfWork(Session(engine)) as uow, pytest.raises(AffiliateNotFound):
        payouts.create_payout(uow, 999_999_999, {"payout_id": unique("svc"), "currency": "EUR", "reference": None})


def test_concurrent_payouts_pay_each_commission_once(app, engine, admin_headers, client, world):
    amounts = [approved_sale(client, world, 10_000 * (i + 1))["amount_cents"] for i in range(4)]
    cash_before = cash(engine)

    answers = run_together(
        6,
        lambda i: app.test_client().post(
            f"/v1/affiliates/{world.affiliate['id']}/payouts",
            json={"payout_id": f"race-{i}", "currency": "EUR"},
            headers=admin_headers,
        ),
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 422, 422, 422, 422, 422], [a.get_json() for a in answers]
    assert cash(engine) - cash_before == sum(amounts)
    assert payable(engine, world) == 0
    with Session(engine) as session:
        payouts = (
            session.execute(select(Payout).where(Payout.affiliate_id == int(world.affiliate["id"]))).scalars().all()
        )
    assert [(p.amount_cents, p.commission_count) for p in payouts] == [(sum(amounts), 4)]
    assert_ledger_ok(engine)


def test_each_paid_commission_is_announced_to_its_merchant_and_affiliate(app, client, engine, admin_headers, world):
    merchant_endpoint = subscribe(client, world.merchant, ["commission.paid"])
    affiliate_endpoint = subscribe_affiliate(app, world.affiliate["id"], ["commission.paid"])
    first = approved_sale(client, world, 10_000)
    second = approved_sale(client, world, 20_000)

    payout = pay(client, admin_headers, world)

    assert payout.status_code == 201
    to_merchant = events_to(engine, merchant_endpoint)
    assert [(kind, data["id"], data["status"], data["fee_cents"]) for kind, data in to_merchant] == [
        ("commission.paid", first["id"], "paid", 80),
        ("commission.paid", second["id"], "paid", 160),
    ]
    to_affiliate = events_to(engine, affiliate_endpoint)
    assert [(kind, data["id"], data["amount_cents"]) for kind, data in to_affiliate] == [
        ("commission.paid", first["id"], 800),
        ("commission.paid", second["id"], 1_600),
    ]
    assert all("fee_cents" not in data for _, data in to_affiliate)


def test_the_affiliate_report_shows_paid_amounts_that_reconcile_with_the_ledger(client, engine, admin_headers, world):
    sale = approved_sale(client, world, 10_000)
    approved_sale(client, world, 20_000)
    cash_before = cash(engine)
    paid = pay(client, admin_headers, world).get_json()
    client.post(
        f"/v1/orders/{sale['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 5_000},
        headers=world.merchant["headers"],
    )
    approved_sale(client, world, 30_000)

    report = client.get("/v1/affiliate/report", headers=world.affiliate["headers"]).get_json()

    (totals,) = report["totals"]
    assert totals["commission_paid_cents"] == paid["amount_cents"] == cash(engine) - cash_before == 2_400
    # What is approved and not yet paid is what the ledger still owes the affiliate.
    assert totals["commission_approved_cents"] == payable(engine, world) == 2_400 - 400
    assert_ledger_ok(engine)


def test_payouts_are_listed_to_the_operator_and_to_their_affiliate_only(client, admin_headers, new_merchant, world):
    other = build_world(client, admin_headers, new_merchant)
    approved_sale(client, world, 10_000)
    approved_sale(client, other, 10_000)
    mine = pay(client, admin_headers, world).get_json()
    theirs = pay(client, admin_headers, other).get_json()

    listed = client.get(f"/v1/affiliates/{world.affiliate['id']}/payouts", headers=admin_headers).get_json()
    own = client.get("/v1/affiliate/payouts", headers=world.affiliate["headers"]).get_json()
    their_own = client.get("/v1/affiliate/payouts", headers=other.affiliate["headers"]).get_json()

    assert listed == own == {"data": [mine], "next_cursor": None}
    assert their_own["data"] == [theirs]
    assert_problem(client.get("/v1/affiliates/999999999/payouts", headers=admin_headers), 404)
    assert_problem(pay(client, admin_headers, World(world.merchant, {"id": "999999999"}, {}, {})), 404)


def test_payout_lists_page_with_a_cursor(client, admin_headers, world):
    for _ in range(3):
        approved_sale(client, world, 10_000)
        assert pay(client, admin_headers, world).status_code == 201

    first = client.get(
        "/v1/affiliate/payouts", query_string={"limit": 2}, headers=world.affiliate["headers"]
    ).get_json()
    rest = client.get(
        "/v1/affiliate/payouts",
        query_string={"limit": 2, "cursor": first["next_cursor"]},
        headers=world.affiliate["headers"],
    ).get_json()

    assert (len(first["data"]), len(rest["data"]), rest["next_cursor"]) == (2, 1, None)


@pytest.mark.parametrize(
    "body",
    [
        {"currency": "EUR"},
        {"payout_id": "", "currency": "EUR"},
        {"payout_id": "has space", "currency": "EUR"},
        {"payout_id": "p1", "currency": "XXX"},
        {"payout_id": "p1", "currency": "EUR", "extra": 1},
        {"payout_id": "p1", "currency": "EUR", "reference": "x" * 141},
    ],
)
def test_a_bad_payout_body_is_refused_and_pays_nothing(client, engine, admin_headers, world, body):
    approved_sale(client, world, 10_000)

    refused = client.post(f"/v1/affiliates/{world.affiliate['id']}/payouts", json=body, headers=admin_headers)

    assert_problem(refused, 422)
    assert payable(engine, world) == 800


# ----------------------------------------------------------------- statements


def issue(client, admin_headers, merchant: dict, period_end=None):
    at = (period_end or utcnow()).isoformat()
    return client.post(f"/v1/merchants/{merchant['id']}/statements", json={"period_end": at}, headers=admin_headers)


def test_a_statement_states_what_the_ledger_says_the_merchant_owes_and_is_owed(
    app, client, engine, admin_headers, world
):
    merchant = world.merchant
    endpoint = subscribe(client, merchant, ["statement.issued"])
    # 300 EUR earn 200 points (1 EUR at 5 EUR per 1000 points) and a 24 EUR commission + 2.40 fee.
    sale = approved_sale(client, world, 30_000)
    # Half refunded: 100 points (0.50 EUR) back, commission adjusted by -12 EUR and fee by -1.20.
    refund = client.post(
        f"/v1/orders/{sale['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 15_000},
        headers=merchant["headers"],
    )
    assert refund.status_code == 201, refund.get_json()
    # A member earns 100 points (0.50 EUR) and spends 60 on a lamp the merchant supplies at 3 EUR.
    item = reward(client, merchant, points_price=60, wholesale_value_cents=300)
    _, _, member = member_with_points(app, engine, client, merchant, 15_000)
    assert redeem(member, item["id"]).status_code == 303
    redemption_id = client.get("/v1/redemptions", headers=merchant["headers"]).get_json()["data"][0]["id"]
    fulfilled = client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=merchant["headers"])
    assert fulfilled.status_code == 200, fulfilled.get_json()

    issued = issue(client, admin_headers, merchant)

    assert issued.status_code == 201, issued.get_json()
    statement = issued.get_json()
    (line,) = statement["lines"]
    assert line == {
        "currency": "EUR",
        "points_bought_cents": 100,
        "commissions_cents": 1_200,
        "network_fees_cents": 120,
        "rewards_supplied_cents": 300,
        "other_cents": 0,
        "net_cents": 100 + 1_200 + 120 - 300,
        # Sale, commission, refund, commission adjustment, the member's earn, the redemption.
        "entry_ids": line["entry_ids"],
    }
    assert len(line["entry_ids"]) == 6
    receivable = balance(engine, accounts.receivable_account(merchant["id"]))
    owed_to_merchant = balance(engine, accounts.payable_account(merchant["id"]))
    assert line["net_cents"] == -receivable - owed_to_merchant
    assert [(kind, data["id"], data["lines"]) for kind, data in events_to(engine, endpoint)] == [
        ("statement.issued", statement["id"], statement["lines"]),
    ]
    assert client.get(f"/v1/statements/{statement['id']}", headers=merchant["headers"]).get_json() == statement
    assert_ledger_ok(engine)


def test_consecutive_statements_cover_adjacent_periods_and_overlaps_are_refused(
    client, engine, admin_headers, merchant
):
    record_order(client, merchant["headers"], amount_cents=15_000)
    first = issue(client, admin_headers, merchant).get_json()
    record_order(client, merchant["headers"], amount_cents=30_000)
    end = utcnow()

    overlapping = issue(client, admin_headers, merchant, utcnow() - timedelta(days=1))
    same_end = client.post(
        f"/v1/merchants/{merchant['id']}/statements", json={"period_end": first["period_end"]}, headers=admin_headers
    )
    future = issue(client, admin_headers, merchant, utcnow() + timedelta(minutes=5))
    second = issue(client, admin_headers, merchant, end).get_json()

    assert [first["lines"][0]["points_bought_cents"], second["lines"][0]["points_bought_cents"]] == [50, 100]
    assert second["period_start"] == first["period_end"]
    for refused in (overlapping, same_end, future):
        assert_problem(refused, 422)
        assert "period_end" in refused.get_json()["errors"]
    listed = client.get(f"/v1/merchants/{merchant['id']}/statements", headers=admin_headers).get_json()
    assert [s["id"] for s in listed["data"]] == [first["id"], second["id"]]
    assert_ledger_ok(engine)


def test_an_idempotency_key_replays_a_statement_and_refuses_another_request(client, engine, admin_headers, merchant):
    path = f"/v1/merchants/{merchant['id']}/statements"
    headers = {**admin_headers, "Idempotency-Key": unique("key")}
    end = utcnow()

    first = client.post(path, json={"period_end": end.isoformat()}, headers=headers)
    again = client.post(path, json={"period_end": end.isoformat()}, headers=headers)
    other = client.post(path, json={"period_end": (end + timedelta(microseconds=1)).isoformat()}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert_problem(other, 409)
    assert other.get_json()["type"] == "/problems/idempotency-conflict"
    with Session(engine) as session:
        assert len(session.execute(select(Statement).where(Statement.merchant_id == int(merchant["id"]))).all()) == 1


def test_a_statement_retried_with_the_same_instant_in_another_offset_replays(client, admin_headers, merchant):
    path = f"/v1/merchants/{merchant['id']}/statements"
    headers = {**admin_headers, "Idempotency-Key": unique("key")}
    end = utcnow()

    first = client.post(path, json={"period_end": end.isoformat()}, headers=headers)
    paris = end.astimezone(timezone(timedelta(hours=2))).isoformat()
    again = client.post(path, json={"period_end": paris}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()


def test_a_statement_key_is_refused_for_another_merchant(client, engine, admin_headers, new_merchant):
    one, two = new_merchant(), new_merchant()
    headers = {**admin_headers, "Idempotency-Key": unique("key")}
    body = {"period_end": utcnow().isoformat()}

    first = client.post(f"/v1/merchants/{one['id']}/statements", json=body, headers=headers)
    refused = client.post(f"/v1/merchants/{two['id']}/statements", json=body, headers=headers)

    assert first.status_code == 201
    assert_problem(refused, 409)
    with Session(engine) as session:
        assert session.execute(select(Statement).where(Statement.merchant_id == int(two["id"]))).first() is None


def test_concurrent_statements_of_one_merchant_never_overlap(app, engine, admin_headers, merchant):
    end = utcnow().isoformat()

    answers = run_together(
        4,
        lambda i: app.test_client().post(
            f"/v1/merchants/{merchant['id']}/statements", json={"period_end": end}, headers=admin_headers
        ),
    )

    assert sorted(a.status_code for a in answers) == [201, 422, 422, 422], [a.get_json() for a in answers]
    with Session(engine) as session:
        assert len(session.execute(select(Statement).where(Statement.merchant_id == int(merchant["id"]))).all()) == 1


def test_a_merchant_reads_only_its_own_statements(client, admin_headers, new_merchant):
    mine, theirs = new_merchant(), new_merchant()
    own = issue(client, admin_headers, mine).get_json()
    other = issue(client, admin_headers, theirs).get_json()

    listed = client.get("/v1/statements", headers=mine["headers"]).get_json()

    assert listed == {"data": [own], "next_cursor": None}
    assert_problem(client.get(f"/v1/statements/{other['id']}", headers=mine["headers"]), 404)
    assert_problem(issue(client, admin_headers, {"id": "999999999"}), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"period_end": "yesterday"},
        {"period_end": "2026-01-01T00:00:00"},
        {"period_end": "2026-01-01T00:00:00Z", "extra": 1},
        {"period_end": "0001-01-01T00:00:00+14:00"},
    ],
)
def test_a_bad_statement_body_is_refused(client, admin_headers, merchant, body):
    refused = client.post(f"/v1/merchants/{merchant['id']}/statements", json=body, headers=admin_headers)

    assert_problem(refused, 422)
    assert client.get("/v1/statements", headers=merchant["headers"]).get_json()["data"] == []


# ----------------------------------------------------------------- keys


ROUTES = [
    ("post", "/v1/affiliates/{affiliate}/payouts", "operator"),
    ("get", "/v1/affiliates/{affiliate}/payouts", "operator"),
    ("get", "/v1/affiliate/payouts", "affiliate"),
    ("post", "/v1/merchants/{merchant}/statements", "operator"),
    ("get", "/v1/merchants/{merchant}/statements", "operator"),
    ("get", "/v1/statements", "merchant"),
    ("get", "/v1/statements/1", "merchant"),
]


@pytest.mark.parametrize(("method", "path", "needs"), ROUTES)
def test_every_settlement_route_refuses_the_wrong_keys(client, admin_headers, world, method, path, needs):
    keys = {
        "operator": admin_headers,
        "merchant": world.merchant["headers"],
        "affiliate": world.affiliate["headers"],
        "unknown": auth("lp_live_" + unique("x")),
        "none": {},
    }
    url = path.format(affiliate=world.affiliate["id"], merchant=world.merchant["id"])
    body = {"payout_id": "p1", "currency": "EUR"} if "payouts" in path else {"period_end": utcnow().isoformat()}

    for role, headers in keys.items():
        if role == needs:
            continue
        response = getattr(client, method)(url, json=body if method == "post" else None, headers=headers)
        assert response.status_code in (401, 403), (role, response.status_code)
        assert response.mimetype == "application/problem+json"


def test_a_period_must_have_closed_long_enough_for_open_transactions_to_finish(app, client, admin_headers, merchant):
    record_order(client, merchant["headers"], amount_cents=15_000)
    app.config["STATEMENT_CLOSE_DELAY_S"] = 300
    try:
        recent = issue(client, admin_headers, merchant, utcnow())
    finally:
        app.config["STATEMENT_CLOSE_DELAY_S"] = 0

    assert_problem(recent, 422)
    assert "300 seconds in the past" in recent.get_json()["errors"]["period_end"][0]
    # Nothing was closed: the same period can be issued once the delay allows it.
    assert issue(client, admin_headers, merchant).get_json()["lines"][0]["points_bought_cents"] == 50
