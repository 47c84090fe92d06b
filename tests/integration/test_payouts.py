"""Scheduled payouts: payout methods, the threshold, Stripe Connect transfers (checked
at the HTTP boundary against a loopback stand-in for Stripe's /v1/transfers, which
localstripe lacks), bank transfers exported as CSV and marked paid, and merchants
paid what a statement says the operator owes them."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.cli import JOBS, run_batches
from app.commissions.models import Commission
from app.settlement.models import Payout
from app.unit_of_work import UnitOfWork
from ledger import accounts
from ledger.models import Entry
from ledger.types import utcnow
from tests.conftest import make_app, serve
from tests.factories.affiliates import World, build_world
from tests.factories.boutique import redeem, reward
from tests.factories.members import member_with_points
from tests.factories.names import unique
from tests.integration.test_auth_and_errors import assert_problem
from tests.integration.test_concurrency import run_together
from tests.integration.test_settlement import approved_sale, balance, cash
from tests.integration.test_webhook_events import events_to, subscribe_affiliate

CONNECT_KEY = "sk_test_connect_boundary"
VALID_IBAN = "DE89 3704 0044 0532 0130 00"
REFUSED = "acct_refused"


@dataclass
class ConnectStandIn:
    """Stripe's ``/v1/transfers`` as far as the platform uses it: it records every
    request, answers a transfer (or Stripe's error for an unknown destination) and
    lists transfers by ``transfer_group``."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    transfers: list[dict] = field(default_factory=list)
    failing: bool = False  # answer 500 to every call, as a Stripe outage would
    _ids: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()}
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        request = {
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "form": form,
            "query": query,
            "authorization": environ.get("HTTP_AUTHORIZATION"),
            "idempotency_key": environ.get("HTTP_IDEMPOTENCY_KEY"),
        }
        with self._lock:
            self.requests.append(request)
            status, body = self._answer(request)
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def _answer(self, request: dict) -> tuple[str, dict]:
        if self.failing:
            return "500 Internal Server Error", {"error": {"type": "api_error", "message": "Stripe is down."}}
        if request["path"] != "/v1/transfers":
            return "404 Not Found", {"error": {"type": "invalid_request_error", "message": "Unrecognized URL"}}
        if request["method"] == "GET":
            group = request["query"].get("transfer_group")
            found = [t for t in self.transfers if t["transfer_group"] == group]
            return "200 OK", {"object": "list", "data": found[:1], "has_more": False, "url": "/v1/transfers"}
        form = request["form"]
        if form["destination"] == REFUSED:
            error = {"type": "invalid_request_error", "message": f"No such destination: '{REFUSED}'"}
            return "400 Bad Request", {"error": {**error, "param": "destination", "code": "resource_missing"}}
        return "200 OK", self.add(form)

    def add(self, form: dict) -> dict:
        transfer = {
            "id": f"tr_{next(self._ids)}_{unique('')}",
            "object": "transfer",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "destination": form["destination"],
            "transfer_group": form["transfer_group"],
            "metadata": {"payout_id": form.get("metadata[payout_id]")},
            "reversed": False,
        }
        self.transfers.append(transfer)
        return transfer

    def posts_to(self, account: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["form"].get("destination") == account]


@pytest.fixture(scope="module")
def connect():
    stand_in = ConnectStandIn()
    with serve(stand_in) as url:
        stand_in.url = url
        yield stand_in


@pytest.fixture(scope="module")
def payouts_app(db_url, connect):
    """The platform with Stripe at the stand-in, on the run's shared database."""
    application = make_app(db_url, STRIPE_API_BASE=connect.url, STRIPE_API_KEY=CONNECT_KEY)
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    """A merchant on shop.example, an affiliate in its 8% program (10% network fee), and a link."""
    return build_world(client, admin_headers, new_merchant)


def run_payouts(app, engine, *, at=None) -> int:
    with app.app_context(), UnitOfWork(Session(engine), clock=lambda: at or utcnow()) as uow:
        return run_batches(JOBS["payouts"], uow)


def set_method(client, admin_headers, kind: str, payee_id: str, **body):
    return client.put(f"/v1/{kind}s/{payee_id}/payout-method", json=body, headers=admin_headers)


def connected(client, admin_headers, world: World) -> str:
    account = f"acct_{unique('').replace('-', '')}"
    response = set_method(
        client, admin_headers, "affiliate", world.affiliate["id"], type="stripe_connect", account=account
    )
    assert response.status_code == 200, response.get_json()
    return account


def payouts_of(engine, world: World) -> list[Payout]:
    with Session(engine) as session:
        query = select(Payout).where(Payout.affiliate_id == int(world.affiliate["id"])).order_by(Payout.id)
        return list(session.execute(query).scalars())


def commission_statuses(engine, world: World) -> list[tuple[str, int | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Commission.status, Commission.payout_id)
            .where(Commission.affiliate_id == int(world.affiliate["id"]))
            .order_by(Commission.id)
        ).all()
    return [tuple(row) for row in rows]


def payout_entries(engine, world: World) -> int:
    ref = f"affiliate:{world.affiliate['id']}:payout:%"
    with Session(engine) as session:
        return session.execute(select(func.count(Entry.id)).where(Entry.ref.like(ref))).scalar_one()


def payable(engine, world: World) -> int:
    return balance(engine, accounts.affiliate_payable_account(world.affiliate["id"]))


def assert_ledger_ok(engine):
    with Session(engine) as session:
        report = ledger.verify(session)
    assert report.ok, report.violations


# 8% of 624.88 EUR is 49.99 EUR; 8% of 0.13 EUR is one cent more.
SALE_FOR_4999_CENTS = 62_488
SALE_FOR_1_CENT = 13


# ----------------------------------------------------------------- payout methods


def test_a_payout_method_is_set_shown_and_replaced_by_the_operator_only(client, admin_headers, world):
    affiliate_id = world.affiliate["id"]
    missing = client.get(f"/v1/affiliates/{affiliate_id}/payout-method", headers=admin_headers)
    assert_problem(missing, 404)

    connect_set = set_method(client, admin_headers, "affiliate", affiliate_id, type="stripe_connect", account="acct_1A")
    assert connect_set.status_code == 200, connect_set.get_json()
    assert connect_set.get_json()["account"] == "acct_1A"

    bank = set_method(
        client, admin_headers, "affiliate", affiliate_id, type="bank_transfer", iban=VALID_IBAN, name="Blog SARL"
    )
    shown = client.get(f"/v1/affiliates/{affiliate_id}/payout-method", headers=admin_headers).get_json()
    assert bank.status_code == 200
    assert (shown["type"], shown["iban"], shown["name"], shown["account"]) == (
        "bank_transfer",
        "DE89370400440532013000",
        "Blog SARL",
        None,
    )
    refused = client.put(
        f"/v1/affiliates/{affiliate_id}/payout-method",
        json={"type": "stripe_connect", "account": "acct_2B"},
        headers=world.affiliate["headers"],
    )
    assert_problem(refused, 401)
    assert client.get(f"/v1/affiliates/{affiliate_id}/payout-method", headers=admin_headers).get_json() == shown


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"type": "bank_transfer", "iban": "DE88370400440532013000", "name": "Blog"}, "iban"),  # check digits
        ({"type": "bank_transfer", "iban": "not an iban", "name": "Blog"}, "iban"),
        ({"type": "bank_transfer", "iban": VALID_IBAN}, "name"),
        ({"type": "bank_transfer", "iban": VALID_IBAN, "name": '=HYPERLINK("x")'}, "name"),
        ({"type": "bank_transfer", "iban": VALID_IBAN, "name": "Blog", "account": "acct_1"}, "account"),
        ({"type": "stripe_connect"}, "account"),
        ({"type": "stripe_connect", "account": "cus_123"}, "account"),
        ({"type": "paypal", "account": "acct_1"}, "type"),
        ({"type": "stripe_connect", "account": "acct_1", "extra": 1}, "extra"),
    ],
)
def test_a_bad_payout_method_is_a_422_naming_the_field_and_changes_nothing(
    client, admin_headers, world, body, field_name
):
    before = set_method(
        client, admin_headers, "affiliate", world.affiliate["id"], type="stripe_connect", account="acct_K"
    )

    response = set_method(client, admin_headers, "affiliate", world.affiliate["id"], **body)

    problem = assert_problem(response, 422)
    assert field_name in json.dumps(problem["errors"])
    shown = client.get(f"/v1/affiliates/{world.affiliate['id']}/payout-method", headers=admin_headers)
    assert shown.get_json() == before.get_json()


def test_a_payout_method_of_an_unknown_payee_is_a_404(client, admin_headers):
    for kind in ("affiliate", "merchant"):
        response = set_method(client, admin_headers, kind, "999999999", type="stripe_connect", account="acct_1")
        assert_problem(response, 404)


# ----------------------------------------------------------------- threshold and netting


def test_the_threshold_keeps_49_99_and_pays_50_00_by_connect_transfer(
    payouts_app, client, engine, admin_headers, world, connect
):
    account = connected(client, admin_headers, world)
    approved_sale(client, world, SALE_FOR_4999_CENTS)
    assert payable(engine, world) == 4_999

    run_payouts(payouts_app, engine)
    assert payouts_of(engine, world) == [] and connect.posts_to(account) == []

    approved_sale(client, world, SALE_FOR_1_CENT)
    cash_before = cash(engine)
    run_payouts(payouts_app, engine)

    [payout] = payouts_of(engine, world)
    assert (payout.status, payout.method, payout.amount_cents, payout.commission_count) == (
        "paid",
        "stripe_connect",
        5_000,
        2,
    )
    assert [status for status, _ in commission_statuses(engine, world)] == ["paid", "paid"]
    assert payable(engine, world) == 0 and cash(engine) - cash_before == 5_000
    assert payout_entries(engine, world) == 1
    assert_ledger_ok(engine)


def test_the_connect_request_carries_the_amount_destination_group_and_idempotency_key(
    payouts_app, client, engine, admin_headers, world, connect
):
    account = connected(client, admin_headers, world)
    approved_sale(client, world, 62_500)

    run_payouts(payouts_app, engine)

    [payout] = payouts_of(engine, world)
    [request] = connect.posts_to(account)
    assert request["authorization"] == f"Bearer {CONNECT_KEY}"
    assert request["idempotency_key"] == f"payout-{payout.id}"
    assert request["form"] == {
        "amount": "5000",
        "currency": "eur",
        "destination": account,
        "transfer_group": f"payout-{payout.id}",
        "metadata[payout_id]": str(payout.id),
    }
    assert payout.stripe_transfer_id == connect.transfers[-1]["id"]
    shown = client.get(f"/v1/payouts/{payout.id}", headers=admin_headers).get_json()
    assert (shown["status"], shown["stripe_transfer_id"], shown["affiliate_id"]) == (
        "paid",
        payout.stripe_transfer_id,
        world.affiliate["id"],
    )
    assert shown["log"]["tree_head"] is not None and len(shown["log"]["leaf_indexes"]) == 1


def test_a_negative_adjustment_is_netted_against_the_threshold(
    payouts_app, client, engine, admin_headers, world, connect
):
    account = connected(client, admin_headers, world)
    sale = approved_sale(client, world, 75_000)  # 60.00 EUR
    refund = client.post(
        f"/v1/orders/{sale['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 25_000},  # -20.00 EUR adjustment
        headers=world.merchant["headers"],
    )
    assert refund.status_code == 201, refund.get_json()
    assert payable(engine, world) == 4_000

    run_payouts(payouts_app, engine)
    assert payouts_of(engine, world) == []

    approved_sale(client, world, 12_500)  # +10.00 EUR: 50.00 net
    run_payouts(payouts_app, engine)

    [payout] = payouts_of(engine, world)
    assert (payout.amount_cents, payout.commission_count, payout.status) == (5_000, 3, "paid")
    assert [request["form"]["amount"] for request in connect.posts_to(account)] == ["5000"]
    assert payable(engine, world) == 0


def test_the_job_run_twice_pays_once(payouts_app, client, engine, admin_headers, world, connect):
    account = connected(client, admin_headers, world)
    approved_sale(client, world, 62_500)

    run_payouts(payouts_app, engine)
    run_payouts(payouts_app, engine)

    assert len(payouts_of(engine, world)) == 1
    assert len(connect.posts_to(account)) == 1
    assert payout_entries(engine, world) == 1


def test_four_concurrent_job_runs_pay_once(payouts_app, client, engine, admin_headers, world, connect):
    account = connected(client, admin_headers, world)
    for _ in range(3):
        approved_sale(client, world, 62_500)
    cash_before = cash(engine)

    done = run_together(4, lambda i: run_payouts(payouts_app, engine))

    assert sum(done) >= 1
    [payout] = payouts_of(engine, world)
    assert (payout.status, payout.amount_cents, payout.commission_count) == ("paid", 15_000, 3)
    assert len(connect.posts_to(account)) == 1
    assert payout_entries(engine, world) == 1 and cash(engine) - cash_before == 15_000
    assert_ledger_ok(engine)


def test_the_paid_affiliate_hears_of_its_commissions_and_its_payout(
    payouts_app, client, engine, admin_headers, world, connect
):
    endpoint = subscribe_affiliate(payouts_app, world.affiliate["id"], ("commission.paid", "payout.paid"))
    connected(client, admin_headers, world)
    sale = approved_sale(client, world, 62_500)

    run_payouts(payouts_app, engine)

    [payout] = payouts_of(engine, world)
    events = events_to(engine, endpoint)
    assert [event_type for event_type, _ in events] == ["commission.paid", "payout.paid"]
    assert events[0][1]["id"] == sale["id"]
    assert (events[1][1]["id"], events[1][1]["status"], events[1][1]["amount_cents"]) == (str(payout.id), "paid", 5_000)


# ----------------------------------------------------------------- Stripe refusing or failing


def test_a_refused_transfer_fails_the_payout_frees_its_commissions_and_waits_for_a_new_method(
    payouts_app, client, engine, admin_headers, world, connect
):
    affiliate_id = world.affiliate["id"]
    set_method(client, admin_headers, "affiliate", affiliate_id, type="stripe_connect", account=REFUSED)
    approved_sale(client, world, 62_500)
    cash_before = cash(engine)

    run_payouts(payouts_app, engine)
    run_payouts(payouts_app, engine)

    [failed] = payouts_of(engine, world)
    assert failed.status == "failed" and "No such destination" in failed.last_error
    assert commission_statuses(engine, world) == [("approved", None)]
    assert payout_entries(engine, world) == 0 and cash(engine) == cash_before
    listed = client.get("/v1/payouts?status=failed&limit=100", headers=admin_headers).get_json()["data"]
    assert str(failed.id) in {p["id"] for p in listed}

    account = connected(client, admin_headers, world)
    run_payouts(payouts_app, engine)

    assert [p.status for p in payouts_of(engine, world)] == ["failed", "paid"]
    assert len(connect.posts_to(account)) == 1
    assert commission_statuses(engine, world)[0][0] == "paid"


def test_stripe_down_leaves_the_payout_pending_and_a_later_run_finds_the_transfer_instead_of_sending_again(
    payouts_app, client, engine, admin_headers, world, connect
):
    account = connected(client, admin_headers, world)
    approved_sale(client, world, 62_500)
    connect.failing = True
    try:
        run_payouts(payouts_app, engine)
    finally:
        connect.failing = False
    [pending] = payouts_of(engine, world)
    assert pending.status == "pending" and pending.attempt_started_at is not None and pending.last_error
    # Stripe had in fact made the transfer before failing to answer.
    connect.add(
        {
            "amount": "5000",
            "currency": "eur",
            "destination": account,
            "transfer_group": f"payout-{pending.id}",
            "metadata[payout_id]": str(pending.id),
        }
    )
    posts_before = len(connect.posts_to(account))

    run_payouts(payouts_app, engine)  # the claim has not timed out: nothing is asked
    assert payouts_of(engine, world)[0].status == "pending"
    run_payouts(payouts_app, engine, at=utcnow() + timedelta(minutes=16))

    [paid] = payouts_of(engine, world)
    assert paid.status == "paid" and paid.stripe_transfer_id == connect.transfers[-1]["id"]
    assert len(connect.posts_to(account)) == posts_before
    assert payout_entries(engine, world) == 1


# ----------------------------------------------------------------- bank transfers


def bank_rows(client, admin_headers) -> list[dict]:
    response = client.get("/v1/payouts/bank-transfers", headers={**admin_headers, "Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_bank_transfers_are_exported_as_csv_until_marked_paid(
    payouts_app, client, engine, admin_headers, new_merchant, connect
):
    first, second = (build_world(client, admin_headers, new_merchant) for _ in range(2))
    for world, name in ((first, "Blog One"), (second, "Blog Two")):
        set_method(
            client, admin_headers, "affiliate", world.affiliate["id"], type="bank_transfer", iban=VALID_IBAN, name=name
        )
        approved_sale(client, world, 62_500)
    run_payouts(payouts_app, engine)
    ids = {world.affiliate["id"]: str(payouts_of(engine, world)[0].id) for world in (first, second)}

    rows = {row["payout_id"]: row for row in bank_rows(client, admin_headers)}
    assert set(ids.values()) <= set(rows)
    row = rows[ids[first.affiliate["id"]]]
    assert row == {
        "payout_id": ids[first.affiliate["id"]],
        "payee_type": "affiliate",
        "payee_id": first.affiliate["id"],
        "name": "Blog One",
        "iban": "DE89370400440532013000",
        "amount": "50.00",
        "currency": "EUR",
        "amount_cents": "5000",
        "reference": row["reference"],
        "created_at": row["created_at"],
    }
    assert ids[first.affiliate["id"]] in row["reference"]
    assert commission_statuses(engine, first) == [("approved", int(ids[first.affiliate["id"]]))]
    assert payout_entries(engine, first) == 0
    every_pending = client.get("/v1/payouts?status=pending&method=bank_transfer&limit=100", headers=admin_headers)
    assert {p["id"] for p in every_pending.get_json()["data"]} == set(rows)

    cash_before = cash(engine)
    paid = client.post(
        f"/v1/payouts/{ids[first.affiliate['id']]}/paid", json={"reference": "SEPA-1"}, headers=admin_headers
    )
    again = client.post(f"/v1/payouts/{ids[first.affiliate['id']]}/paid", json={}, headers=admin_headers)

    assert paid.status_code == 200, paid.get_json()
    assert (paid.get_json()["status"], paid.get_json()["reference"]) == ("paid", "SEPA-1")
    assert again.status_code == 200 and again.get_json()["paid_at"] == paid.get_json()["paid_at"]
    assert commission_statuses(engine, first)[0][0] == "paid"
    assert payout_entries(engine, first) == 1 and cash(engine) - cash_before == 5_000
    left = {row["payout_id"] for row in bank_rows(client, admin_headers)}
    assert ids[first.affiliate["id"]] not in left and ids[second.affiliate["id"]] in left
    assert_ledger_ok(engine)


def test_only_a_pending_bank_transfer_is_marked_paid(payouts_app, client, engine, admin_headers, world, connect):
    connected(client, admin_headers, world)
    approved_sale(client, world, 62_500)
    run_payouts(payouts_app, engine)
    [payout] = payouts_of(engine, world)

    assert_problem(client.post(f"/v1/payouts/{payout.id}/paid", json={}, headers=admin_headers), 409)
    assert_problem(client.post("/v1/payouts/999999999/paid", json={}, headers=admin_headers), 404)
    assert_problem(client.post(f"/v1/payouts/{payout.id}/paid", json={"reference": ""}, headers=admin_headers), 422)
    assert payout_entries(engine, world) == 1


def test_a_manual_payout_leaves_alone_commissions_already_in_a_pending_payout(
    payouts_app, client, engine, admin_headers, world, connect
):
    set_method(
        client, admin_headers, "affiliate", world.affiliate["id"], type="bank_transfer", iban=VALID_IBAN, name="Blog"
    )
    approved_sale(client, world, 62_500)
    run_payouts(payouts_app, engine)

    manual = client.post(
        f"/v1/affiliates/{world.affiliate['id']}/payouts",
        json={"payout_id": unique("p"), "currency": "EUR"},
        headers=admin_headers,
    )

    assert_problem(manual, 422)
    assert [p.status for p in payouts_of(engine, world)] == ["pending"]


# ----------------------------------------------------------------- merchants owed by a statement


def test_a_merchant_owed_by_a_statement_is_paid_its_net_once(
    payouts_app, app, client, engine, admin_headers, merchant, connect
):
    # 100 points (0.50 EUR) earned, 60 spent on a lamp the merchant supplies at 3 EUR: it is owed 2.50.
    item = reward(client, merchant, points_price=60, wholesale_value_cents=300)
    _, _, member = member_with_points(app, engine, client, merchant, 15_000)
    assert redeem(member, item["id"]).status_code == 303
    redemption_id = client.get("/v1/redemptions", headers=merchant["headers"]).get_json()["data"][0]["id"]
    fulfilled = client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=merchant["headers"])
    assert fulfilled.status_code == 200
    statement = client.post(
        f"/v1/merchants/{merchant['id']}/statements", json={"period_end": utcnow().isoformat()}, headers=admin_headers
    ).get_json()
    assert statement["lines"][0]["net_cents"] == -250
    run_payouts(payouts_app, engine)  # no payout method yet: it waits
    account = f"acct_{unique('').replace('-', '')}"
    assert (
        set_method(
            client, admin_headers, "merchant", merchant["id"], type="stripe_connect", account=account
        ).status_code
        == 200
    )
    payable_before = balance(engine, accounts.payable_account(merchant["id"]))

    run_payouts(payouts_app, engine)
    run_payouts(payouts_app, engine)

    with Session(engine) as session:
        [payout] = session.execute(select(Payout).where(Payout.merchant_id == int(merchant["id"]))).scalars()
    assert (payout.status, payout.amount_cents, str(payout.statement_id)) == ("paid", 250, statement["id"])
    [request] = connect.posts_to(account)
    assert request["form"]["amount"] == "250"
    shown = client.get(f"/v1/statements/{statement['id']}", headers=merchant["headers"]).get_json()
    assert {k: shown["payout"][k] for k in ("payout_id", "status", "method", "amount_cents")} == {
        "payout_id": str(payout.id),
        "status": "paid",
        "method": "stripe_connect",
        "amount_cents": 250,
    }
    assert statement["payout"] is None  # none was made when it was issued
    assert balance(engine, accounts.payable_account(merchant["id"])) == payable_before - 250
    # The payout settles the statement: the next statement counts it nowhere.
    later = client.post(
        f"/v1/merchants/{merchant['id']}/statements", json={"period_end": utcnow().isoformat()}, headers=admin_headers
    ).get_json()
    assert later["lines"][0]["net_cents"] == 0 and later["lines"][0]["other_cents"] == 0
    assert_ledger_ok(engine)


def test_the_job_runs_from_the_command_line(payouts_app, client, admin_headers, world, connect, engine):
    connected(client, admin_headers, world)
    approved_sale(client, world, 62_500)

    result = payouts_app.test_cli_runner().invoke(args=["jobs", "run", "payouts"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("payouts: ")
    assert [p.status for p in payouts_of(engine, world)] == ["paid"]
