"""Attribution of orders and leads, the commission lifecycle, refunds and the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

import ledger
from app.cli import JOBS
from app.commissions.models import Commission
from app.unit_of_work import UnitOfWork
from ledger import accounts
from ledger.types import utcnow
from tests.factories.affiliates import World, build_world, new_affiliate, new_link, new_program
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_auth_and_errors import assert_problem


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    """A merchant on shop.example, an affiliate approved for its 8% program, and a link."""
    return build_world(client, admin_headers, new_merchant)


def signed(app, world, *, age: timedelta, click_id: str | None = None) -> str:
    """A token for the world's link as if clicked ``age`` ago."""
    return app.extensions["clicks"].tokens.issue(
        click_id=click_id or unique("c")[:20],
        affiliate_id=int(world.affiliate["id"]),
        program_id=int(world.program["id"]),
        link_id=int(world.link["id"]),
        now=utcnow() - age,
    )


def payable(engine, affiliate_id: str, currency: str = "EUR") -> int:
    with Session(engine) as session:
        found = accounts.find_account(session, accounts.affiliate_payable_account(affiliate_id), currency)
        return 0 if found is None else accounts.balance(session, found)


def assert_ledger_ok(engine):
    with Session(engine) as session:
        report = ledger.verify(session)
    assert report.ok, report.violations


def test_an_order_with_a_click_token_creates_a_pending_commission(client, world):
    response = record_order(client, world.merchant["headers"], click_token=world.click(client), amount_cents=12_345)

    assert response.status_code == 201
    body = response.get_json()
    assert body["attribution_error"] is None
    assert body["commission"]["status"] == "pending"
    assert body["commission"]["amount_cents"] == 12_345 * 800 // 10_000
    assert body["commission"]["affiliate_id"] == world.affiliate["id"]
    assert body["points_earned"] == 80
    shown = client.get(f"/v1/orders/{body['order_id']}", headers=world.merchant["headers"]).get_json()
    assert shown["commission"]["id"] == body["commission"]["id"]


def test_an_order_without_a_token_answers_null_commission_and_no_error(client, world):
    body = record_order(client, world.merchant["headers"], amount_cents=10_000).get_json()

    assert (body["commission"], body["attribution_error"]) == (None, None)


def test_a_replayed_order_returns_the_same_commission_and_creates_no_second_one(client, world, session):
    token, order_id = world.click(client), unique("o")
    first = record_order(
        client,
        world.merchant["headers"],
        click_token=token,
        order_id=order_id,
        member_email="same@example.com",
        amount_cents=10_000,
    )
    again = record_order(
        client,
        world.merchant["headers"],
        click_token=token,
        order_id=order_id,
        member_email="same@example.com",
        amount_cents=10_000,
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    count = session.query(Commission).filter_by(merchant_id=int(world.merchant["id"])).count()
    session.rollback()
    assert count == 1
    other_token = record_order(
        client,
        world.merchant["headers"],
        click_token=world.click(client),
        order_id=order_id,
        member_email="same@example.com",
        amount_cents=10_000,
    )
    assert_problem(other_token, 409)


def test_a_fast_click_to_order_is_flagged_suspicious_and_a_slower_one_is_not(app, client, world):
    fast = record_order(
        client, world.merchant["headers"], click_token=signed(app, world, age=timedelta(seconds=2)), amount_cents=10_000
    )
    slow = record_order(
        client, world.merchant["headers"], click_token=signed(app, world, age=timedelta(minutes=5)), amount_cents=10_000
    )

    assert fast.get_json()["commission"]["suspicious"] is True
    assert slow.get_json()["commission"]["suspicious"] is False
    flagged = client.get(
        "/v1/commissions", query_string={"suspicious": "true"}, headers=world.merchant["headers"]
    ).get_json()["data"]
    assert [c["id"] for c in flagged] == [fast.get_json()["commission"]["id"]]


@pytest.mark.parametrize(("age_days", "expected"), [(29, None), (31, "expired")])
def test_a_click_older_than_the_attribution_window_earns_nothing(app, client, world, age_days, expected):
    body = record_order(
        client,
        world.merchant["headers"],
        click_token=signed(app, world, age=timedelta(days=age_days)),
        amount_cents=10_000,
    ).get_json()

    assert body["attribution_error"] == expected
    assert (body["commission"] is None) == (expected is not None)


def test_the_window_is_the_programs(app, client, admin_headers, new_merchant):
    short = build_world(client, admin_headers, new_merchant, attribution_window_days=7)

    body = record_order(
        client, short.merchant["headers"], click_token=signed(app, short, age=timedelta(days=8)), amount_cents=10_000
    ).get_json()

    assert body["attribution_error"] == "expired"


def test_refusals_are_stored_for_the_merchants_review(app, client, world, admin_headers, new_merchant):
    other = build_world(client, admin_headers, new_merchant)
    tampered = world.click(client)
    tampered = tampered[:-3] + ("AAA" if tampered[-3:] != "AAA" else "BBB")
    codes = {
        "invalid_token": record_order(client, world.merchant["headers"], click_token=tampered, amount_cents=10_000),
        "foreign_program": record_order(
            client, world.merchant["headers"], click_token=other.click(client), amount_cents=10_000
        ),
        "self_referral": record_order(
            client,
            world.merchant["headers"],
            click_token=world.click(client),
            member_email=world.affiliate["email"],
            amount_cents=10_000,
        ),
    }

    for code, response in codes.items():
        assert response.status_code == 201  # the order and its points are recorded anyway
        assert response.get_json()["attribution_error"] == code
        assert response.get_json()["commission"] is None
    listed = client.get("/v1/attribution-errors", headers=world.merchant["headers"]).get_json()["data"]
    assert sorted(e["code"] for e in listed) == sorted(codes)
    assert {e["order_id"] for e in listed} == {r.get_json()["order_id"] for r in codes.values()}
    assert client.get("/v1/attribution-errors", headers=other.merchant["headers"]).get_json()["data"] == []


def test_an_affiliate_whose_website_is_the_merchants_own_domain_is_a_self_referral(client, admin_headers, new_merchant):
    merchant = new_merchant(domains=["shop.example"])
    insider = new_affiliate(client, admin_headers, website="https://deals.shop.example/")
    program = new_program(client, merchant["headers"])
    client.post(f"/v1/programs/{program['id']}/applications", headers=insider["headers"])
    link = new_link(client, insider["headers"], program["id"])
    token = World(merchant, insider, program, link).click(client)

    assert (
        record_order(client, merchant["headers"], click_token=token, amount_cents=10_000).get_json()[
            "attribution_error"
        ]
        == "self_referral"
    )


def test_one_click_converts_once(client, world):
    token = world.click(client)

    first = record_order(client, world.merchant["headers"], click_token=token, amount_cents=10_000).get_json()
    second = record_order(client, world.merchant["headers"], click_token=token, amount_cents=10_000).get_json()

    assert first["commission"] is not None
    assert (second["commission"], second["attribution_error"]) == (None, "duplicate")


def test_a_paused_program_and_a_refused_affiliate_earn_nothing(client, world):
    token = world.click(client)
    client.patch(f"/v1/programs/{world.program['id']}", json={"active": False}, headers=world.merchant["headers"])
    assert (
        record_order(client, world.merchant["headers"], click_token=token, amount_cents=10_000).get_json()[
            "attribution_error"
        ]
        == "program_paused"
    )

    client.patch(f"/v1/programs/{world.program['id']}", json={"active": True}, headers=world.merchant["headers"])
    application = client.get(
        f"/v1/programs/{world.program['id']}/applications", headers=world.merchant["headers"]
    ).get_json()["data"][0]
    client.patch(
        f"/v1/programs/{world.program['id']}/applications/{application['id']}",
        json={"status": "refused"},
        headers=world.merchant["headers"],
    )
    refused = record_order(client, world.merchant["headers"], click_token=token, amount_cents=10_000).get_json()
    assert refused["attribution_error"] == "affiliate_not_approved"


def test_a_lead_earns_the_fixed_lead_amount_once(client, admin_headers, new_merchant):
    w = build_world(client, admin_headers, new_merchant, lead_amount_cents=250)
    body = {"lead_id": unique("lead"), "click_token": w.click(client)}

    first = client.post("/v1/leads", json=body, headers=w.merchant["headers"])
    again = client.post("/v1/leads", json=body, headers=w.merchant["headers"])

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    assert first.get_json()["commission"]["amount_cents"] == 250
    other = client.post("/v1/leads", json={**body, "lead_id": unique("lead")}, headers=w.merchant["headers"])
    assert other.get_json()["attribution_error"] == "duplicate"


def test_a_lead_in_a_program_without_lead_amount_earns_nothing(client, world):
    answer = client.post(
        "/v1/leads",
        json={"lead_id": unique("lead"), "click_token": world.click(client)},
        headers=world.merchant["headers"],
    ).get_json()

    assert answer["attribution_error"] == "no_lead_commission"


def test_fixed_commissions_respect_the_cap(client, admin_headers, new_merchant):
    w = build_world(
        client, admin_headers, new_merchant, commission={"type": "percent", "basis_points": 5000}, cap_cents=1_000
    )

    body = record_order(client, w.merchant["headers"], click_token=w.click(client), amount_cents=100_000).get_json()

    assert body["commission"]["amount_cents"] == 1_000


def test_approval_posts_commission_and_fee_to_the_ledger(client, engine, world):
    commission = record_order(client, world.merchant["headers"], click_token=world.click(client), amount_cents=50_000)
    commission_id = commission.get_json()["commission"]["id"]

    approved = client.post(f"/v1/commissions/{commission_id}/approve", headers=world.merchant["headers"])

    assert approved.status_code == 200
    assert (approved.get_json()["status"], approved.get_json()["amount_cents"]) == ("approved", 4_000)
    assert approved.get_json()["fee_cents"] == 400
    assert payable(engine, world.affiliate["id"]) == 4_000
    # A retried approval answers the same and posts nothing more; a contrary decision is refused.
    again = client.post(f"/v1/commissions/{commission_id}/approve", headers=world.merchant["headers"])
    assert (again.status_code, again.get_json()) == (200, approved.get_json())
    assert payable(engine, world.affiliate["id"]) == 4_000
    assert_problem(
        client.post(
            f"/v1/commissions/{commission_id}/reject", json={"reason": "late"}, headers=world.merchant["headers"]
        ),
        409,
    )
    assert_ledger_ok(engine)


def test_a_rejected_commission_keeps_its_reason_and_posts_nothing(client, engine, world):
    commission_id = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]

    rejected = client.post(
        f"/v1/commissions/{commission_id}/reject", json={"reason": "Order cancelled"}, headers=world.merchant["headers"]
    )

    assert (rejected.get_json()["status"], rejected.get_json()["reason"]) == ("rejected", "Order cancelled")
    assert payable(engine, world.affiliate["id"]) == 0
    assert_problem(
        client.post(f"/v1/commissions/{commission_id}/reject", json={}, headers=world.merchant["headers"]), 422
    )
    again = client.post(
        f"/v1/commissions/{commission_id}/reject", json={"reason": "Order cancelled"}, headers=world.merchant["headers"]
    )
    assert (again.status_code, again.get_json()) == (200, rejected.get_json())
    assert_problem(
        client.post(
            f"/v1/commissions/{commission_id}/reject",
            json={"reason": "Another reason"},
            headers=world.merchant["headers"],
        ),
        409,
    )
    assert_problem(client.post(f"/v1/commissions/{commission_id}/approve", headers=world.merchant["headers"]), 409)


def test_the_job_approves_only_commissions_whose_hold_has_ended_and_is_idempotent(app, client, engine, world):
    commission_id = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]
    job = JOBS["approve-commissions"]

    def run(now) -> None:
        with UnitOfWork(Session(engine), now=now) as uow:
            while uow.commit(job(uow)):
                pass

    run(utcnow() + timedelta(days=29))
    assert (
        client.get(f"/v1/commissions/{commission_id}", headers=world.merchant["headers"]).get_json()["status"]
        == "pending"
    )
    run(utcnow() + timedelta(days=31))
    run(utcnow() + timedelta(days=32))

    assert (
        client.get(f"/v1/commissions/{commission_id}", headers=world.merchant["headers"]).get_json()["status"]
        == "approved"
    )
    assert payable(engine, world.affiliate["id"]) == 800
    assert_ledger_ok(engine)


def test_the_job_runs_from_the_cli(runner):
    result = runner.invoke(args=["jobs", "run", "approve-commissions"])

    assert result.exit_code == 0 and result.output.startswith("approve-commissions: ")


def test_a_refund_before_approval_recomputes_a_percentage_commission(client, engine, world):
    body = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()
    commission_id = body["commission"]["id"]

    client.post(
        f"/v1/orders/{body['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 2_500},
        headers=world.merchant["headers"],
    )

    shown = client.get(f"/v1/commissions/{commission_id}", headers=world.merchant["headers"]).get_json()
    assert (shown["status"], shown["amount_cents"], shown["base_amount_cents"]) == ("pending", 600, 7_500)
    client.post(
        f"/v1/orders/{body['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 7_500},
        headers=world.merchant["headers"],
    )
    shown = client.get(f"/v1/commissions/{commission_id}", headers=world.merchant["headers"]).get_json()
    assert (shown["status"], shown["amount_cents"]) == ("rejected", 0)
    assert payable(engine, world.affiliate["id"]) == 0


def test_a_refund_after_approval_posts_a_negative_adjustment_once(client, engine, world):
    body = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()
    client.post(f"/v1/commissions/{body['commission']['id']}/approve", headers=world.merchant["headers"])
    refund = {"refund_id": unique("r"), "amount_cents": 5_000}

    client.post(f"/v1/orders/{body['order_id']}/refunds", json=refund, headers=world.merchant["headers"])
    client.post(f"/v1/orders/{body['order_id']}/refunds", json=refund, headers=world.merchant["headers"])

    listed = client.get("/v1/commissions", headers=world.merchant["headers"]).get_json()["data"]
    adjustments = [c for c in listed if c["kind"] == "adjustment"]
    assert [(a["amount_cents"], a["fee_cents"], a["status"]) for a in adjustments] == [(-400, -40, "approved")]
    assert adjustments[0]["adjusts_commission_id"] == body["commission"]["id"]
    assert payable(engine, world.affiliate["id"]) == 400
    assert_ledger_ok(engine)


def test_bulk_approval_by_json_and_rejection_by_csv(client, engine, world):
    ids = [
        record_order(
            client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
        ).get_json()["commission"]["id"]
        for _ in range(3)
    ]

    by_json = client.post(
        "/v1/commissions/bulk", json={"items": [{"id": ids[0], "action": "approve"}]}, headers=world.merchant["headers"]
    )
    csv_body = f'id,action,reason\n{ids[1]},reject,"Returned, damaged"\n{ids[2]},approve,\n'
    by_csv = client.post(
        "/v1/commissions/bulk", data=csv_body, content_type="text/csv", headers=world.merchant["headers"]
    )

    assert by_json.status_code == 200, by_json.get_json()
    assert by_csv.status_code == 200, by_csv.get_json()
    statuses = {c["id"]: (c["status"], c["reason"]) for c in by_csv.get_json()["data"]}
    assert statuses == {ids[1]: ("rejected", "Returned, damaged"), ids[2]: ("approved", None)}
    assert payable(engine, world.affiliate["id"]) == 1_600


def test_a_bulk_with_one_bad_line_changes_nothing(client, world, admin_headers, new_merchant):
    other = build_world(client, admin_headers, new_merchant)
    mine = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]
    theirs = record_order(
        client, other.merchant["headers"], click_token=other.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]

    response = client.post(
        "/v1/commissions/bulk",
        json={"items": [{"id": mine, "action": "approve"}, {"id": theirs, "action": "approve"}]},
        headers=world.merchant["headers"],
    )

    body = assert_problem(response, 422)
    assert list(body["errors"]) == ["1"]
    assert client.get(f"/v1/commissions/{mine}", headers=world.merchant["headers"]).get_json()["status"] == "pending"
    assert client.get(f"/v1/commissions/{theirs}", headers=other.merchant["headers"]).get_json()["status"] == "pending"
    bad_csv = client.post(
        "/v1/commissions/bulk", data=f"{mine},reject\n", content_type="text/csv", headers=world.merchant["headers"]
    )
    assert_problem(bad_csv, 422)


def test_a_merchant_never_sees_or_decides_another_merchants_commissions(client, world, admin_headers, new_merchant):
    other = build_world(client, admin_headers, new_merchant)
    theirs = record_order(
        client, other.merchant["headers"], click_token=other.click(client), amount_cents=10_000
    ).get_json()["commission"]["id"]

    assert_problem(client.get(f"/v1/commissions/{theirs}", headers=world.merchant["headers"]), 404)
    assert_problem(client.post(f"/v1/commissions/{theirs}/approve", headers=world.merchant["headers"]), 404)
    assert_problem(
        client.post(f"/v1/commissions/{theirs}/reject", json={"reason": "x"}, headers=world.merchant["headers"]), 404
    )
    listed = client.get("/v1/commissions", headers=world.merchant["headers"]).get_json()["data"]
    assert theirs not in {c["id"] for c in listed}


def test_commissions_are_filtered_by_status_and_program(client, world):
    ids = [
        record_order(
            client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
        ).get_json()["commission"]["id"]
        for _ in range(2)
    ]
    client.post(f"/v1/commissions/{ids[0]}/approve", headers=world.merchant["headers"])

    pending = client.get(
        "/v1/commissions",
        query_string={"status": "pending", "program_id": world.program["id"]},
        headers=world.merchant["headers"],
    ).get_json()["data"]

    assert [c["id"] for c in pending] == [ids[1]]
    assert_problem(
        client.get("/v1/commissions", query_string={"status": "maybe"}, headers=world.merchant["headers"]), 422
    )


def test_the_order_still_records_with_a_garbage_token(client, world):
    body = record_order(client, world.merchant["headers"], click_token="x" * 40, amount_cents=10_000).get_json()

    assert body["points_earned"] == 60 and body["attribution_error"] == "invalid_token"
    assert_problem(record_order(client, world.merchant["headers"], click_token="x" * 600, amount_cents=10_000), 422)


def test_concurrent_orders_with_one_click_create_one_commission(app, engine, world):
    from tests.integration.test_concurrency import run_together

    token = world.click(app.test_client())

    responses = run_together(
        8, lambda i: record_order(app.test_client(), world.merchant["headers"], click_token=token, amount_cents=10_000)
    )

    assert [r.status_code for r in responses] == [201] * 8
    answers = [r.get_json() for r in responses]
    assert sum(a["commission"] is not None for a in answers) == 1
    assert sorted(a["attribution_error"] or "" for a in answers) == [""] + ["duplicate"] * 7
    concurrent_approvals = run_together(
        4,
        lambda i: app.test_client().post(
            f"/v1/commissions/{next(a for a in answers if a['commission'])['commission']['id']}/approve",
            headers=world.merchant["headers"],
        ),
    )
    assert [r.status_code for r in concurrent_approvals] == [200] * 4
    assert {r.get_json()["decided_at"] for r in concurrent_approvals} == {
        concurrent_approvals[0].get_json()["decided_at"]
    }
    assert payable(engine, world.affiliate["id"]) == 800  # posted once
    assert_ledger_ok(engine)


def test_after_key_rotation_old_clicks_still_earn_until_the_old_key_is_removed(app, db_url, world):
    from tests.conftest import make_app

    old_key, new_key = "rotation-old-" + "o" * 32, "rotation-new-" + "n" * 32
    before = make_app(db_url, CLICK_TOKEN_KEYS=[old_key])
    rotated = make_app(db_url, CLICK_TOKEN_KEYS=[new_key, old_key])
    retired = make_app(db_url, CLICK_TOKEN_KEYS=[new_key])
    old_click = world.click(before.test_client())
    new_click = world.click(rotated.test_client())

    kept = record_order(
        rotated.test_client(), world.merchant["headers"], click_token=old_click, amount_cents=10_000
    ).get_json()
    fresh = record_order(
        retired.test_client(), world.merchant["headers"], click_token=new_click, amount_cents=10_000
    ).get_json()
    dropped = record_order(
        retired.test_client(),
        world.merchant["headers"],
        click_token=world.click(before.test_client()),
        amount_cents=10_000,
    )

    assert kept["commission"] is not None and fresh["commission"] is not None
    assert dropped.get_json()["attribution_error"] == "invalid_token"
    for each in (before, rotated, retired):
        with each.app_context():
            from app.extensions import db

            db.engine.dispose()
