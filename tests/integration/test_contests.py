"""Contests over HTTP and in the boutique: the commitment before entries open, who may
enter, the draw anyone can check, and prizes through the redemption path at no points."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from partner_sdk import verify_draw
from tests.conftest import ADMIN_KEY
from tests.factories.boutique import reward
from tests.factories.contests import contest_body, later, move_window
from tests.factories.members import csrf_of, earn, sign_in
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique_email
from tests.integration.test_concurrency import run_together

OPERATOR = auth(ADMIN_KEY)


def body(item_id: str, **overrides) -> dict:
    return contest_body(item_id, **overrides)


@pytest.fixture
def shop(client):
    merchant = create_merchant(client, OPERATOR)
    voucher = reward(client, merchant, kind="voucher", generate_codes=5)
    return merchant, voucher


def create(client, headers, item_id, status=201, **overrides):
    answer = client.post("/v1/contests", json=body(item_id, **overrides), headers=headers)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def customer(client, merchant) -> tuple[str, str]:
    email = unique_email()
    return email, earn(client, merchant, email, 3000)["member_id"]


def stock(client, merchant, item_id) -> int:
    return client.get(f"/v1/catalog/items/{item_id}", headers=merchant["headers"]).get_json()["stock"]


def rows(engine, model) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


# -- creating -----------------------------------------------------------------------


def test_the_commitment_is_published_at_creation_before_entries_open_and_the_seed_stays_secret(client, shop):
    merchant, voucher = shop

    contest = create(client, merchant["headers"], voucher["id"])

    assert contest["status"] == "scheduled"
    assert contest["created_at"] < contest["entries_open_at"]
    assert len(contest["seed_commitment"]) == 64 and int(contest["seed_commitment"], 16) >= 0
    assert contest["seed"] is None and contest["winners"] is None and contest["entries_hash"] is None
    again = client.get(f"/v1/contests/{contest['id']}", headers=merchant["headers"]).get_json()
    assert again["seed_commitment"] == contest["seed_commitment"] and again["seed"] is None
    assert stock(client, merchant, voucher["id"]) == 3, "the prizes are set aside"


def test_an_idempotent_create_sets_prizes_aside_once(client, shop):
    merchant, voucher = shop
    headers = {**merchant["headers"], "Idempotency-Key": "contest-once"}
    sent = body(voucher["id"])

    first = client.post("/v1/contests", json=sent, headers=headers)
    second = client.post("/v1/contests", json=sent, headers=headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json() == second.get_json()
    assert stock(client, merchant, voucher["id"]) == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entries_open_at": later(minutes=-1)}, "entries_open_at"),
        ({"entries_close_at": later(minutes=1)}, "entries_close_at"),
        ({"entries_close_at": later(days=400)}, "entries_close_at"),
        ({"winners": 6}, "winners"),
        ({"winners": 0}, "winners"),
        ({"winners": 1001}, "winners"),
        ({"eligibility": {"free_entry": True, "segment_id": "1"}}, "eligibility"),
        ({"eligibility": {}}, "eligibility"),
        ({"eligibility": {"free_entry": False}}, "eligibility"),
        ({"prize": {"item_id": "999999999"}}, "prize"),
    ],
    ids=lambda v: str(v)[:50],
)
def test_a_contest_that_breaks_a_rule_is_refused_and_nothing_is_set_aside(client, engine, shop, change, field):
    from app.contests.models import Contest

    merchant, voucher = shop
    before = rows(engine, Contest)

    answer = client.post("/v1/contests", json=body(voucher["id"], **change), headers=merchant["headers"])

    assert answer.status_code == 422 and answer.mimetype == "application/problem+json", answer.get_json()
    assert field in str(answer.get_json()["errors"])
    assert rows(engine, Contest) == before
    assert stock(client, merchant, voucher["id"]) == 5


def test_the_prize_must_be_a_voucher_of_ones_own_catalog_and_the_segment_ones_own(client, shop):
    merchant, voucher = shop
    other = create_merchant(client, OPERATOR)
    physical = reward(client, merchant)
    segment = client.post("/v1/segments", json={"name": "Theirs", "rules": {}}, headers=other["headers"])

    create(client, merchant["headers"], physical["id"], status=422)
    create(client, other["headers"], voucher["id"], status=422)
    refused = create(
        client, merchant["headers"], voucher["id"], status=422, eligibility={"segment_id": segment.get_json()["id"]}
    )
    assert "eligibility" in refused["errors"]


def test_the_operator_runs_a_coalition_contest_with_any_merchants_voucher(client, shop):
    merchant, voucher = shop

    contest = create(client, OPERATOR, voucher["id"], winners=1)

    assert contest["owner"] == "operator"
    listed = client.get("/v1/contests", headers=merchant["headers"]).get_json()["data"]
    assert contest["id"] not in {c["id"] for c in listed}
    assert contest["id"] in {c["id"] for c in client.get("/v1/contests?limit=100", headers=OPERATOR).get_json()["data"]}


def test_another_merchants_contest_is_not_found(client, shop):
    merchant, voucher = shop
    other = create_merchant(client, OPERATOR)
    contest = create(client, merchant["headers"], voucher["id"])

    for method, path in (("get", ""), ("post", "/draw"), ("get", "/entries")):
        answer = getattr(client, method)(f"/v1/contests/{contest['id']}{path}", headers=other["headers"])
        assert answer.status_code == 404, (path, answer.get_json())


# -- entering through the API ---------------------------------------------------------


def test_a_merchant_enters_its_customer_once_in_the_window(client, engine, shop):
    merchant, voucher = shop
    email, member_id = customer(client, merchant)
    contest = create(client, merchant["headers"], voucher["id"])
    path = f"/v1/contests/{contest['id']}/entries"

    early = client.post(path, json={"member_email": email}, headers=merchant["headers"])
    move_window(engine, contest["id"])
    first = client.post(path, json={"member_email": email.upper()}, headers=merchant["headers"])
    second = client.post(path, json={"member_email": email}, headers=merchant["headers"])

    assert early.status_code == 409
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json() == second.get_json()
    assert first.get_json()["member_id"] == member_id and first.get_json()["source"] == "api"
    entry_id = first.get_json()["entry_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", entry_id)
    assert client.get(path, headers=merchant["headers"]).get_json()["data"] == [{"entry_id": entry_id}]


def test_a_member_who_is_not_the_merchants_customer_cannot_be_entered(client, engine, shop):
    from app.contests.models import ContestEntry

    merchant, voucher = shop
    other = create_merchant(client, OPERATOR)
    email, _ = customer(client, other)
    contest = create(client, merchant["headers"], voucher["id"])
    move_window(engine, contest["id"])
    before = rows(engine, ContestEntry)

    for sent in (email, unique_email()):
        answer = client.post(
            f"/v1/contests/{contest['id']}/entries", json={"member_email": sent}, headers=merchant["headers"]
        )
        assert answer.status_code == 422, answer.get_json()
        assert answer.get_json()["errors"] == {"member_email": ["Not a customer of yours."]}
    assert rows(engine, ContestEntry) == before


def test_a_segment_contest_refuses_customers_outside_the_segment(client, engine, shop):
    from app.contests.models import ContestEntry

    merchant, voucher = shop
    regular, regular_id = customer(client, merchant)
    earn(client, merchant, regular, 3000)
    newcomer, _ = customer(client, merchant)
    segment = client.post(
        "/v1/segments",
        json={"name": "Regulars", "rules": {"bought": "here", "min_orders": 2}},
        headers=merchant["headers"],
    ).get_json()
    contest = create(client, merchant["headers"], voucher["id"], eligibility={"segment_id": segment["id"]})
    move_window(engine, contest["id"])
    path = f"/v1/contests/{contest['id']}/entries"
    before = rows(engine, ContestEntry)

    refused = client.post(path, json={"member_email": newcomer}, headers=merchant["headers"])
    assert refused.status_code == 422 and "member_email" in refused.get_json()["errors"]
    assert rows(engine, ContestEntry) == before
    entered = client.post(path, json={"member_email": regular}, headers=merchant["headers"])
    assert entered.status_code == 201 and entered.get_json()["member_id"] == regular_id


# -- the draw -------------------------------------------------------------------------


def test_the_draw_comes_after_the_window_and_anyone_can_check_it(client, engine, shop):
    merchant, voucher = shop
    contest = create(client, merchant["headers"], voucher["id"], winners=3)
    move_window(engine, contest["id"])
    emails = [customer(client, merchant)[0] for _ in range(4)]
    for email in emails:
        entered = client.post(
            f"/v1/contests/{contest['id']}/entries", json={"member_email": email}, headers=merchant["headers"]
        )
        assert entered.status_code == 201
    assert client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"]).status_code == 409

    move_window(engine, contest["id"], closed=True)
    drawn = client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"])
    again = client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"])

    assert drawn.status_code == 200 and again.get_json() == drawn.get_json()
    result = drawn.get_json()
    assert result["algorithm"] == "hmac-sha256-rejection-v1" and len(result["winners"]) == 3
    assert hashlib.sha256(bytes.fromhex(result["seed"])).hexdigest() == contest["seed_commitment"]
    entries = [e["entry_id"] for e in _entries(client, merchant, contest["id"])]
    assert entries == sorted(entries) and len(entries) == 4
    assert verify_draw(
        result["seed"], contest["seed_commitment"], entries, result["entries_hash"], result["winners"], 3
    )
    shown = client.get(f"/v1/contests/{contest['id']}", headers=merchant["headers"]).get_json()
    assert {k: shown[k] for k in ("seed", "entries_hash", "winners", "algorithm")} == {
        k: result[k] for k in ("seed", "entries_hash", "winners", "algorithm")
    }
    assert shown["status"] == "drawn" and shown["entries_count"] == 4


def _entries(client, merchant, contest_id) -> list[dict]:
    found, cursor = [], None
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = client.get(f"/v1/contests/{contest_id}/entries{query}", headers=merchant["headers"]).get_json()
        found += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_winners_get_their_voucher_at_no_points_and_unwon_prizes_go_back_on_sale(client, engine, runner, shop):
    merchant, voucher = shop
    contest = create(client, merchant["headers"], voucher["id"], winners=3)
    move_window(engine, contest["id"])
    email, member_id = customer(client, merchant)
    points_before = client.get(f"/v1/members/{member_id}", headers=merchant["headers"]).get_json()
    path = f"/v1/contests/{contest['id']}/entries"
    entry = client.post(path, json={"member_email": email}, headers=merchant["headers"]).get_json()
    move_window(engine, contest["id"], closed=True)

    result = client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"]).get_json()

    assert result["winners"] == [entry["entry_id"]]
    assert stock(client, merchant, voucher["id"]) == 4, "two unwon prizes came back"
    supplied = client.get("/v1/redemptions?limit=100", headers=merchant["headers"]).get_json()["data"]
    prizes = [r for r in supplied if r["prize"]]
    assert len(prizes) == 1
    assert (prizes[0]["points"], prizes[0]["wholesale_value_cents"], prizes[0]["status"]) == (0, 0, "fulfilled")
    assert prizes[0]["voucher_code"] in voucher["generated_codes"]
    points_after = client.get(f"/v1/members/{member_id}", headers=merchant["headers"]).get_json()
    assert points_after == points_before
    orders = sign_in(client.application, engine, email).get("/orders").get_data(as_text=True)
    assert prizes[0]["voucher_code"] in orders and "contest prize" in orders
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_contest_without_entries_draws_no_winner_and_returns_every_prize(client, engine, shop):
    merchant, voucher = shop
    contest = create(client, merchant["headers"], voucher["id"], winners=2)
    move_window(engine, contest["id"], closed=True)

    result = client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"]).get_json()

    assert result["winners"] == [] and result["entries_hash"] == hashlib.sha256(b"").hexdigest()
    assert stock(client, merchant, voucher["id"]) == 5


def test_winners_are_mailed_only_with_consent_under_the_right_purpose(app, client, engine, shop):
    from app.audience import services as audience
    from app.mail import OutboxMail

    merchant, voucher = shop
    contest = create(client, merchant["headers"], voucher["id"], winners=2)
    move_window(engine, contest["id"])
    consenting, consenting_id = customer(client, merchant)
    refusing, refusing_id = customer(client, merchant)
    with app.app_context(), Session(engine) as s:
        audience.set_consent(s, int(consenting_id), "merchants", True, source="account-page", now=ledger.utcnow())
        audience.set_consent(s, int(refusing_id), "coalition", True, source="account-page", now=ledger.utcnow())
        s.commit()
    for email in (consenting, refusing):
        client.post(f"/v1/contests/{contest['id']}/entries", json={"member_email": email}, headers=merchant["headers"])
    move_window(engine, contest["id"], closed=True)

    client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"])

    with Session(engine) as s:
        query = select(OutboxMail.recipient, OutboxMail.subject).where(
            OutboxMail.recipient.in_([consenting, refusing]), OutboxMail.subject.like("You won%")
        )
        sent = {recipient: subject for recipient, subject in s.execute(query)}
    assert sent == {consenting: f"You won: {contest['name']}"}, "a customer's mail needs the merchants consent"


# -- entering from the boutique ---------------------------------------------------------


def test_a_member_enters_from_the_boutique_and_sees_the_result(app, client, engine, shop):
    merchant, voucher = shop
    email, member_id = customer(client, merchant)
    contest = create(client, merchant["headers"], voucher["id"], winners=1)
    move_window(engine, contest["id"])
    browser = sign_in(app, engine, email)

    listed = browser.get("/contests")
    assert contest["name"] in listed.get_data(as_text=True)
    page = browser.get(f"/contests/{contest['id']}")
    assert contest["seed_commitment"] in page.get_data(as_text=True)
    assert browser.post(f"/contests/{contest['id']}/enter", data={}).status_code == 400, "CSRF is required"
    entered = browser.post(f"/contests/{contest['id']}/enter", data={"csrf_token": csrf_of(page)})
    assert entered.status_code == 303
    assert "You are entered" in browser.get(f"/contests/{contest['id']}").get_data(as_text=True)

    move_window(engine, contest["id"], closed=True)
    result = client.post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"]).get_json()
    shown = browser.get(f"/contests/{contest['id']}").get_data(as_text=True)
    [winner] = result["winners"]
    assert "You won!" in shown and winner in shown and f"member id {member_id}" not in shown
    assert result["seed"] in shown and result["entries_hash"] in shown


def test_an_ineligible_member_cannot_enter_from_the_boutique(app, client, engine, shop):
    from app.contests.models import ContestEntry

    merchant, voucher = shop
    email, _ = customer(client, merchant)
    segment = client.post(
        "/v1/segments", json={"name": "Big", "rules": {"min_orders": 5}}, headers=merchant["headers"]
    ).get_json()
    contest = create(client, merchant["headers"], voucher["id"], eligibility={"segment_id": segment["id"]})
    move_window(engine, contest["id"])
    browser = sign_in(app, engine, email)
    token = csrf_of(browser.get("/contests"))
    before = rows(engine, ContestEntry)

    assert contest["name"] not in browser.get("/contests").get_data(as_text=True)
    assert browser.get(f"/contests/{contest['id']}").status_code == 404
    refused = browser.post(f"/contests/{contest['id']}/enter", data={"csrf_token": token})

    assert refused.status_code == 422 and "cannot enter" in refused.get_data(as_text=True)
    assert rows(engine, ContestEntry) == before


def test_a_free_entry_contest_is_open_to_a_member_who_never_bought(app, client, engine, shop):
    merchant, voucher = shop
    other = create_merchant(client, OPERATOR)
    email, _ = customer(client, other)
    contest = create(client, merchant["headers"], voucher["id"])
    move_window(engine, contest["id"])
    browser = sign_in(app, engine, email)

    page = browser.get(f"/contests/{contest['id']}")
    entered = browser.post(f"/contests/{contest['id']}/enter", data={"csrf_token": csrf_of(page)})

    assert entered.status_code == 303
    assert len(client.get(f"/v1/contests/{contest['id']}/entries", headers=merchant["headers"]).get_json()["data"]) == 1


# -- at the same time -----------------------------------------------------------------

PARALLEL = 8


def test_parallel_entries_of_one_member_make_one_entry(client, engine, shop):
    from app.contests.models import ContestEntry

    merchant, voucher = shop
    email, _ = customer(client, merchant)
    contest = create(client, merchant["headers"], voucher["id"])
    move_window(engine, contest["id"])
    path = f"/v1/contests/{contest['id']}/entries"
    apps = [client.application.test_client() for _ in range(PARALLEL)]

    answers = run_together(
        PARALLEL, lambda i: apps[i].post(path, json={"member_email": email}, headers=merchant["headers"])
    )

    assert sorted(a.status_code for a in answers) == [200] * (PARALLEL - 1) + [201]
    with Session(engine) as s:
        query = select(func.count()).select_from(ContestEntry).where(ContestEntry.contest_id == int(contest["id"]))
        assert s.execute(query).scalar_one() == 1


def test_parallel_draws_give_one_result_and_one_prize_per_winner(client, engine, shop):
    from app.boutique.models import Redemption

    merchant, voucher = shop
    contest = create(client, merchant["headers"], voucher["id"], winners=2)
    move_window(engine, contest["id"])
    for _ in range(3):
        email, _ = customer(client, merchant)
        client.post(f"/v1/contests/{contest['id']}/entries", json={"member_email": email}, headers=merchant["headers"])
    move_window(engine, contest["id"], closed=True)
    apps = [client.application.test_client() for _ in range(PARALLEL)]

    answers = run_together(
        PARALLEL, lambda i: apps[i].post(f"/v1/contests/{contest['id']}/draw", headers=merchant["headers"])
    )

    assert {a.status_code for a in answers} == {200}
    assert len({str(a.get_json()) for a in answers}) == 1
    with Session(engine) as s:
        prizes = (
            select(func.count())
            .select_from(Redemption)
            .where(Redemption.prize.is_(True), Redemption.item_id == int(voucher["id"]))
        )
        assert s.execute(prizes).scalar_one() == 2
    assert stock(client, merchant, voucher["id"]) == 3


def test_an_operators_segment_contest_is_for_customers_of_the_coalition_only(app, client, engine, shop):
    merchant, voucher = shop
    buyer, buyer_id = customer(client, merchant)
    prospect = unique_email()
    sign_in(app, engine, prospect)  # a member who never ordered
    segment = client.post("/v1/segments", json={"name": "Everyone", "rules": {}}, headers=OPERATOR).get_json()
    contest = create(client, OPERATOR, voucher["id"], winners=1, eligibility={"segment_id": segment["id"]})
    move_window(engine, contest["id"])
    path = f"/v1/contests/{contest['id']}/entries"

    refused = client.post(path, json={"member_email": prospect}, headers=OPERATOR)
    entered = client.post(path, json={"member_email": buyer}, headers=OPERATOR)

    assert refused.status_code == 422 and "existing customers" in refused.get_json()["detail"]
    assert entered.status_code == 201 and entered.get_json()["member_id"] == buyer_id
