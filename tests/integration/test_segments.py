"""Segments: rules over orders, tier and interests; sizes kept current by a job that
re-reads only the members that changed; merchants count others, never name them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.unit_of_work import UnitOfWork
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique_email
from tests.factories.orders import record_order

OPERATOR = auth(ADMIN_KEY)


@pytest.fixture(scope="module")
def seg_app(databases):
    """A database of its own: sizes count every member, and the job's state is global."""
    application = make_app(databases.new())
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture
def api(seg_app):
    return seg_app.test_client()


def order(api, merchant, email, amount_cents=3000):
    answer = record_order(api, merchant["headers"], member_email=email, amount_cents=amount_cents)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def segment(api, headers, rules, status=201):
    answer = api.post("/v1/segments", json={"name": "Seg", "rules": rules}, headers=headers)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def rewind_job(seg_app):
    """Put the job's last pass two minutes ago: tests run it at times of their choosing
    (a month ahead, say) while their orders are recorded at the real time."""
    from app.extensions import db
    from app.segments.models import SegmentJobState

    with seg_app.app_context(), Session(db.engine) as s:
        state = s.get(SegmentJobState, 1)
        state.ran_at, state.pass_until, state.member_cursor = ledger.utcnow() - timedelta(minutes=2), None, 0
        s.commit()


@pytest.fixture(autouse=True)
def _job_in_the_present(seg_app):
    rewind_job(seg_app)


def run_job(seg_app, now=None):
    """The refresh job at ``now`` (by default the present), to the end of its pass;
    returns the members it re-read."""
    from app.extensions import db
    from app.segments import services

    if now is None:
        rewind_job(seg_app)
        now = ledger.utcnow()
    total = 0
    with seg_app.app_context():
        while True:
            uow = UnitOfWork(Session(db.engine), now=now)
            try:
                done = services.refresh(uow, batch=3)
            finally:
                uow.close()
            total += done
            if done < 3:
                return total


def test_a_merchant_segment_counts_its_customers_and_others_and_names_only_its_customers(api):
    here, there = create_merchant(api, OPERATOR), create_merchant(api, OPERATOR)
    loyal, twice_elsewhere, once_here = unique_email(), unique_email(), unique_email()
    order(api, here, loyal), order(api, here, loyal)
    order(api, there, twice_elsewhere), order(api, there, twice_elsewhere)
    order(api, here, once_here)

    regulars = segment(api, here["headers"], {"min_orders": 2, "bought": "here"})
    elsewhere = segment(api, here["headers"], {"min_orders": 2, "bought": "elsewhere_not_here"})
    anyone = segment(api, here["headers"], {"min_orders": 2})

    assert (regulars["size"], regulars["size_customers"], regulars["size_others"]) == (1, 1, 0)
    assert (elsewhere["size"], elsewhere["size_customers"], elsewhere["size_others"]) == (1, 0, 1)
    assert (anyone["size"], anyone["size_customers"], anyone["size_others"]) == (2, 1, 1)
    shown = api.get(f"/v1/segments/{anyone['id']}/members", headers=here["headers"]).get_json()["data"]
    assert [m["email"] for m in shown] == [loyal]
    everyone = api.get(f"/v1/segments/{anyone['id']}/members", headers=OPERATOR).get_json()["data"]
    assert {m["email"] for m in everyone} == {loyal, twice_elsewhere}
    assert api.get(f"/v1/segments/{anyone['id']}", headers=there["headers"]).status_code == 404
    assert api.get(f"/v1/segments/{anyone['id']}/members", headers=there["headers"]).status_code == 404


def test_the_job_brings_a_segment_up_to_date_with_new_orders_and_refunds(api, seg_app):
    shop = create_merchant(api, OPERATOR)
    big = segment(api, shop["headers"], {"bought": "here", "min_spend_cents": 10_000})
    run_job(seg_app)
    buyer = unique_email()
    placed = order(api, shop, buyer, amount_cents=12_000)

    run_job(seg_app)

    grown = api.get(f"/v1/segments/{big['id']}", headers=shop["headers"]).get_json()
    assert (grown["size"], grown["size_customers"]) == (big["size"] + 1, big["size_customers"] + 1)
    assert grown["history"][0]["joined"] == 1
    refund = {"refund_id": "r1", "amount_cents": 5000}
    assert api.post(f"/v1/orders/{placed['order_id']}/refunds", json=refund, headers=shop["headers"]).status_code == 201

    run_job(seg_app)

    shrunk = api.get(f"/v1/segments/{big['id']}", headers=shop["headers"]).get_json()
    assert shrunk["size"] == big["size"] and shrunk["history"][0]["left"] == 1


def test_time_rules_move_members_without_any_order(api, seg_app):
    shop = create_merchant(api, OPERATOR)
    order(api, shop, unique_email())
    from app.extensions import db
    from app.segments import services

    with seg_app.app_context():
        uow = UnitOfWork(Session(db.engine))
        try:
            merchant = services.Caller(int(shop["id"]))
            dormant = services.create_segment(
                uow, merchant, {"name": "Gone", "rules": {"bought": "here", "dormant_days": 30}}
            )
            fresh = services.create_segment(
                uow, merchant, {"name": "New", "rules": {"bought": "here", "first_order_within_days": 30}}
            )
            uow.commit(None)
            ids = dormant.id, fresh.id
            assert (dormant.size, fresh.size) == (0, 1)
        finally:
            uow.close()
    run_job(seg_app)

    run_job(seg_app, ledger.utcnow() + timedelta(days=31))

    sizes = [api.get(f"/v1/segments/{i}", headers=shop["headers"]).get_json()["size"] for i in ids]
    assert sizes == [1, 0]


def test_interests_and_tiers_select_members_and_their_changes_reach_the_job(api, seg_app):
    shop = create_merchant(api, OPERATOR)
    assert api.post("/v1/interests", json={"slug": "jazz", "label": "Jazz"}, headers=OPERATOR).status_code == 201
    fan = unique_email()
    placed = order(api, shop, fan)
    jazz = segment(api, OPERATOR, {"interests": ["jazz"]})
    assert jazz["size"] == 0
    from app.audience import services as audience
    from app.extensions import db

    with seg_app.app_context():
        with Session(db.engine) as s:
            audience.set_interests(s, int(placed["member_id"]), ["jazz"], ledger.utcnow())
            s.commit()
    run_job(seg_app)

    assert api.get(f"/v1/segments/{jazz['id']}", headers=OPERATOR).get_json()["size"] == 1


def test_rules_that_cannot_hold_are_refused(api):
    shop = create_merchant(api, OPERATOR)

    for headers, rules in (
        (OPERATOR, {"bought": "here"}),
        (OPERATOR, {"bought": "elsewhere_not_here"}),
        (shop["headers"], {"tier": "Nonexistent"}),
        (shop["headers"], {"interests": ["never-listed"]}),
        (shop["headers"], {"min_orders": 0}),
        (shop["headers"], {"dormant_days": "ten"}),
        (shop["headers"], {"bought": "somewhere"}),
        (shop["headers"], {"unknown_rule": 1}),
        (shop["headers"], {"interests": ["jazz", "jazz"]}),
    ):
        answer = api.post("/v1/segments", json={"name": "Bad", "rules": rules}, headers=headers)
        assert answer.status_code == 422, (rules, answer.get_json())
        assert answer.mimetype == "application/problem+json"


def test_a_job_with_nothing_new_re_reads_nobody(api, seg_app):
    shop = create_merchant(api, OPERATOR)
    segment(api, shop["headers"], {"bought": "here"})
    assert run_job(seg_app) > 0
    from app.extensions import db
    from app.segments import services

    done = []
    with seg_app.app_context():
        for minutes in (5, 10):  # the first pass re-reads the minute before the last one
            uow = UnitOfWork(Session(db.engine), now=ledger.utcnow() + timedelta(minutes=minutes))
            try:
                done.append(services.refresh(uow))
            finally:
                uow.close()
    assert done[1] == 0


def test_erased_members_leave_every_segment(api, seg_app):
    shop = create_merchant(api, OPERATOR)
    email = unique_email()
    placed = order(api, shop, email)
    mine = segment(api, shop["headers"], {"bought": "here"})
    from app.extensions import db
    from app.members import account
    from app.members.models import MemberProfile

    with seg_app.app_context():
        uow = UnitOfWork(Session(db.engine))
        try:
            uow.session.add(MemberProfile(member_id=int(placed["member_id"]), session_epoch=0))
            uow.session.flush()
            account.delete_account(uow, int(placed["member_id"]))
        finally:
            uow.close()
    run_job(seg_app)

    assert api.get(f"/v1/segments/{mine['id']}", headers=shop["headers"]).get_json()["size"] == mine["size"] - 1
    with seg_app.app_context(), Session(db.engine) as s:
        from app.segments.models import SegmentMember

        assert (
            s.execute(select(SegmentMember).where(SegmentMember.member_id == int(placed["member_id"]))).first() is None
        )


def test_a_campaign_on_a_segment_gives_its_bonus_to_the_segments_members_only(api, seg_app):
    shop = create_merchant(api, OPERATOR)
    regular, newcomer = unique_email(), unique_email()
    order(api, shop, regular), order(api, shop, regular)
    regulars = segment(api, shop["headers"], {"bought": "here", "min_orders": 2})
    body = {
        "name": "Thank you, regulars",
        "starts_at": ledger.utcnow().isoformat(),
        "ends_at": (ledger.utcnow() + timedelta(days=7)).isoformat(),
        "effect": {"type": "bonus", "points": 50},
        "conditions": {"segment_id": regulars["id"]},
        "budget_points": 10_000,
    }
    assert api.post("/v1/campaigns", json=body, headers=shop["headers"]).status_code == 201

    third = order(api, shop, regular)
    first = order(api, shop, newcomer)

    assert [b["points"] for b in third["bonuses"]] == [50]
    assert first["bonuses"] == []
