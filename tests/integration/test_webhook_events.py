"""Every feature writes its webhook events to the outbox in the transaction of its change."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import unit_of_work
from app.extensions import db
from app.mail import OutboxMail
from app.members import services as members
from app.unit_of_work import UnitOfWork
from app.webhooks import services as webhooks
from ledger.types import utcnow
from tests.factories.affiliates import build_world
from tests.factories.boutique import redeem, reward
from tests.factories.members import earn, member_with_points
from tests.factories.names import unique, unique_email
from tests.factories.orders import record_order
from tests.factories.webhooks import deliveries_to, register_endpoint


def subscribe(client, merchant, events) -> str:
    response = register_endpoint(client, merchant["headers"], url="http://127.0.0.1:9/hooks", events=events)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def events_to(engine, endpoint_id: str) -> list[tuple[str, dict]]:
    return [(event_type, json.loads(body)["data"]) for event_type, body in deliveries_to(engine, endpoint_id)]


REDEMPTION_EVENTS = ("redemption.placed", "redemption.fulfilled", "redemption.cancelled")


def test_a_physical_redemption_tells_its_supplier_when_placed_and_when_fulfilled(app, client, engine, new_merchant):
    supplier = new_merchant()
    endpoint = subscribe(client, supplier, REDEMPTION_EVENTS)
    item = reward(client, supplier, points_price=60)
    _, _, member = member_with_points(app, engine, client, supplier)

    assert redeem(member, item["id"]).status_code == 303
    redemption_id = client.get("/v1/redemptions", headers=supplier["headers"]).get_json()["data"][0]["id"]
    done = client.post(
        f"/v1/redemptions/{redemption_id}/fulfil", json={"tracking_reference": "TRK-9"}, headers=supplier["headers"]
    )
    assert done.status_code == 200

    events = events_to(engine, endpoint)
    assert [(kind, data["id"], data["status"]) for kind, data in events] == [
        ("redemption.placed", redemption_id, "placed"),
        ("redemption.fulfilled", redemption_id, "fulfilled"),
    ]
    assert events[1][1]["tracking_reference"] == "TRK-9"
    # A repeated fulfil changes nothing, so it tells nobody.
    client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=supplier["headers"])
    assert len(events_to(engine, endpoint)) == 2


def test_a_cancelled_redemption_is_announced_with_its_reason(app, client, engine, new_merchant):
    supplier = new_merchant()
    endpoint = subscribe(client, supplier, ["redemption.cancelled"])
    item = reward(client, supplier, points_price=60)
    _, _, member = member_with_points(app, engine, client, supplier)
    redeem(member, item["id"])
    redemption_id = client.get("/v1/redemptions", headers=supplier["headers"]).get_json()["data"][0]["id"]

    client.post(f"/v1/redemptions/{redemption_id}/cancel", json={"reason": "Discontinued"}, headers=supplier["headers"])

    [(kind, data)] = events_to(engine, endpoint)
    assert (kind, data["id"], data["status"], data["cancel_reason"]) == (
        "redemption.cancelled",
        redemption_id,
        "cancelled",
        "Discontinued",
    )


def test_a_voucher_is_announced_placed_then_fulfilled_with_its_code(app, client, engine, new_merchant):
    supplier = new_merchant()
    endpoint = subscribe(client, supplier, REDEMPTION_EVENTS)
    code = unique("VCODE").upper()
    item = reward(client, supplier, kind="voucher", points_price=50, voucher_codes=[code])
    _, _, member = member_with_points(app, engine, client, supplier)

    assert redeem(member, item["id"]).status_code == 303

    events = events_to(engine, endpoint)
    assert [kind for kind, _ in events] == ["redemption.placed", "redemption.fulfilled"]
    assert events[1][1]["voucher_code"] == code


def test_another_merchants_redemptions_are_not_announced_to_this_one(app, client, engine, new_merchant):
    supplier, bystander = new_merchant(), new_merchant()
    endpoint = subscribe(client, bystander, REDEMPTION_EVENTS)
    item = reward(client, supplier, points_price=60)
    _, _, member = member_with_points(app, engine, client, supplier)

    redeem(member, item["id"])

    assert events_to(engine, endpoint) == []


def run_expiry_notices(app, now) -> int:
    total = 0
    with app.app_context():
        while announced := members.notify_expiring_points(UnitOfWork(db.session, now=now)):
            total += announced
        db.session.remove()
    return total


def test_points_about_to_expire_are_announced_once_to_the_issuer_and_the_member(app, client, engine, new_merchant):
    soon, later = new_merchant(points_lifetime_days=7), new_merchant(points_lifetime_days=60)
    endpoint = subscribe(client, soon, ["points.expiring"])
    other_endpoint = subscribe(client, later, ["points.expiring"])
    email = unique_email()
    earned = earn(client, soon, email, 4500)  # 30 points, expiring in 7 days
    earn(client, later, email, 4500)  # 30 points, expiring in 60 days: not yet

    run_expiry_notices(app, utcnow())

    [(kind, data)] = events_to(engine, endpoint)
    assert (kind, data["member_id"], data["points"]) == ("points.expiring", earned["member_id"], 30)
    assert events_to(engine, other_endpoint) == []
    with Session(engine) as s:
        mails = s.execute(select(OutboxMail.subject, OutboxMail.body).where(OutboxMail.recipient == email)).all()
    assert [subject for subject, _ in mails] == ["Your points expire soon"]
    assert "30 points on" in mails[0].body
    # Once per lot: a second run tells nobody again.
    run_expiry_notices(app, utcnow())
    assert len(events_to(engine, endpoint)) == 1
    with Session(engine) as s:
        assert (
            s.execute(select(func.count()).select_from(OutboxMail).where(OutboxMail.recipient == email)).scalar() == 1
        )


def test_spent_points_are_not_announced_as_expiring(app, client, engine, new_merchant):
    supplier = new_merchant(points_lifetime_days=7)
    endpoint = subscribe(client, supplier, ["points.expiring"])
    item = reward(client, supplier, points_price=100)
    _, _, member = member_with_points(app, engine, client, supplier)  # exactly 100 points
    redeem(member, item["id"])
    redemption_id = client.get("/v1/redemptions", headers=supplier["headers"]).get_json()["data"][0]["id"]
    client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=supplier["headers"])

    run_expiry_notices(app, utcnow())

    assert events_to(engine, endpoint) == []


def test_the_expiry_notice_job_runs_from_the_cli(runner):
    result = runner.invoke(args=["jobs", "run", "notify-expiring-points"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("notify-expiring-points: ")


COMMISSION_EVENTS = ("commission.created", "commission.approved", "commission.rejected")


def subscribe_affiliate(app, affiliate_id: str, events) -> str:
    with app.app_context(), unit_of_work.unit() as uow:
        created = webhooks.create_endpoint(
            uow,
            webhooks.Owner("affiliate", int(affiliate_id)),
            {"url": "http://127.0.0.1:9/hooks", "events": list(events), "enabled": True},
            allow_insecure=True,
            key=None,
        )
    return created["id"]


def test_a_commission_is_announced_to_its_merchant_and_affiliate_when_created_and_approved(
    app, client, engine, admin_headers, new_merchant
):
    world = build_world(client, admin_headers, new_merchant)
    bystander = build_world(client, admin_headers, new_merchant)
    merchant_endpoint = subscribe(client, world.merchant, COMMISSION_EVENTS)
    affiliate_endpoint = subscribe_affiliate(app, world.affiliate["id"], COMMISSION_EVENTS)
    bystander_endpoints = [
        subscribe(client, bystander.merchant, COMMISSION_EVENTS),
        subscribe_affiliate(app, bystander.affiliate["id"], COMMISSION_EVENTS),
    ]
    recorded = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()
    commission_id = recorded["commission"]["id"]

    approved = client.post(f"/v1/commissions/{commission_id}/approve", headers=world.merchant["headers"])
    assert approved.status_code == 200, approved.get_json()

    to_merchant = events_to(engine, merchant_endpoint)
    assert [
        (kind, data["id"], data["status"], data["amount_cents"], data["fee_cents"]) for kind, data in to_merchant
    ] == [
        ("commission.created", commission_id, "pending", 800, 80),
        ("commission.approved", commission_id, "approved", 800, 80),
    ]
    to_affiliate = events_to(engine, affiliate_endpoint)
    assert [(kind, data["id"], data["amount_cents"]) for kind, data in to_affiliate] == [
        ("commission.created", commission_id, 800),
        ("commission.approved", commission_id, 800),
    ]
    assert all("fee_cents" not in data for _, data in to_affiliate)
    assert [events_to(engine, endpoint) for endpoint in bystander_endpoints] == [[], []]


def test_a_rejected_commission_is_announced_with_its_reason(app, client, engine, admin_headers, new_merchant):
    world = build_world(client, admin_headers, new_merchant)
    endpoint = subscribe_affiliate(app, world.affiliate["id"], ["commission.rejected"])
    recorded = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()

    client.post(
        f"/v1/commissions/{recorded['commission']['id']}/reject",
        json={"reason": "Order cancelled"},
        headers=world.merchant["headers"],
    )

    [(kind, data)] = events_to(engine, endpoint)
    assert (kind, data["status"], data["reason"]) == ("commission.rejected", "rejected", "Order cancelled")


def test_a_refund_after_approval_announces_the_negative_adjustment(app, client, engine, admin_headers, new_merchant):
    world = build_world(client, admin_headers, new_merchant)
    endpoint = subscribe(client, world.merchant, ["commission.approved"])
    recorded = record_order(
        client, world.merchant["headers"], click_token=world.click(client), amount_cents=10_000
    ).get_json()
    client.post(f"/v1/commissions/{recorded['commission']['id']}/approve", headers=world.merchant["headers"])

    refund = client.post(
        f"/v1/orders/{recorded['order_id']}/refunds",
        json={"refund_id": unique("r"), "amount_cents": 5_000},
        headers=world.merchant["headers"],
    )
    assert refund.status_code == 201, refund.get_json()

    kinds = [
        (data["kind"], data["amount_cents"], data["adjusts_commission_id"]) for _, data in events_to(engine, endpoint)
    ]
    assert kinds == [("sale", 800, None), ("adjustment", -400, recorded["commission"]["id"])]
