"""The redemption services on their own: each call is a unit of work on a session
of its own, no HTTP in between (the world is set up through the API)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.boutique import services as boutique
from app.boutique.errors import NotAvailable, OutOfStock, RedemptionNotFound, RedemptionResolved
from app.boutique.models import CatalogItem, Redemption
from app.merchants.models import MerchantTerms
from app.unit_of_work import IdempotencyKeyReused, UnitOfWork
from app.webhooks.models import WebhookEvent
from tests.factories.boutique import reward
from tests.factories.members import earn
from tests.factories.names import unique_email

TIMEOUT_S = 3600
REDEMPTION_EVENTS = ("redemption.placed", "redemption.fulfilled", "redemption.cancelled")


def terms(merchant: dict) -> MerchantTerms:
    return MerchantTerms(int(merchant["id"]), merchant["name"], "EUR", 10, 1500, 500, 365)


def unit(engine, **kwargs) -> UnitOfWork:
    return UnitOfWork(Session(engine), **kwargs)


def place(engine, member_id: int, item_id: str, *, key: str | None = None, address: str = "1 Rue Test", **kwargs):
    with unit(engine, **kwargs) as uow:
        answer = boutique.place_redemption(
            uow,
            member_id=member_id,
            item_id=int(item_id),
            idempotency_key=key or uuid.uuid4().hex,
            shipping_address=address,
            timeout_s=TIMEOUT_S,
        )
        return answer, uow.replayed


def stock_of(engine, item_id: str) -> int:
    with Session(engine) as s:
        return s.execute(select(CatalogItem.stock).where(CatalogItem.id == int(item_id))).scalar_one()


def points_of(engine, member_id: int) -> ledger.MemberPoints:
    with Session(engine) as s:
        return ledger.member_points(s, str(member_id))


def redemptions_of(engine, member_id: int) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count(Redemption.id)).where(Redemption.member_id == member_id)).scalar_one()


def events_of(engine, merchant_id: int, redemption_id: str) -> list[str]:
    """The redemption's events in the supplier's outbox."""
    query = select(WebhookEvent.event_type, WebhookEvent.body).where(
        WebhookEvent.owner_kind == "merchant", WebhookEvent.owner_id == merchant_id
    )
    with Session(engine) as s:
        rows = s.execute(query).all()
    return [event_type for event_type, body in rows if json.loads(body)["data"]["id"] == redemption_id]


@pytest.fixture
def world(client, merchant):
    """A supplier (subscribed to redemption events) with a lamp in stock (60 points)
    and a member with 100 points."""
    hooks = {"url": "http://127.0.0.1:9/hooks", "events": list(REDEMPTION_EVENTS)}
    assert client.post("/v1/webhook-endpoints", json=hooks, headers=merchant["headers"]).status_code == 201
    item = reward(client, merchant, points_price=60, stock=3)
    member_id = int(earn(client, merchant, unique_email(), 15000)["member_id"])
    return merchant, item, member_id


def test_placing_holds_the_points_reserves_a_unit_and_commits(engine, world):
    merchant, item, member_id = world

    answer, replayed = place(engine, member_id, item["id"])

    assert (answer["status"], answer["points"], replayed) == ("placed", 60, False)
    assert stock_of(engine, item["id"]) == 2
    assert (points_of(engine, member_id).balance, points_of(engine, member_id).held) == (100, 60)


def test_placing_again_with_the_key_replays_the_first_answer_and_changes_nothing(engine, world):
    _, item, member_id = world
    first, _ = place(engine, member_id, item["id"], key="key-0123456789abcdef")

    again, replayed = place(engine, member_id, item["id"], key="key-0123456789abcdef")

    assert replayed and again == first
    assert stock_of(engine, item["id"]) == 2
    assert redemptions_of(engine, member_id) == 1


@pytest.mark.parametrize("change", ["another item", "another address"])
def test_the_key_of_a_redemption_sent_for_something_else_is_refused_and_changes_nothing(client, engine, world, change):
    merchant, item, member_id = world
    other = reward(client, merchant, points_price=10, stock=3)
    place(engine, member_id, item["id"], key="key-0123456789abcdef")
    target, address = (other["id"], "1 Rue Test") if change == "another item" else (item["id"], "2 Rue Autre")

    with pytest.raises(IdempotencyKeyReused):
        place(engine, member_id, target, key="key-0123456789abcdef", address=address)

    assert (stock_of(engine, item["id"]), stock_of(engine, other["id"])) == (2, 3)
    assert points_of(engine, member_id).available == 40
    assert redemptions_of(engine, member_id) == 1


def test_a_refused_redemption_holds_nothing(client, engine, world):
    merchant, item, member_id = world
    sold_out = reward(client, merchant, points_price=10, stock=0)

    with pytest.raises(OutOfStock):
        place(engine, member_id, sold_out["id"])
    with pytest.raises(NotAvailable):
        place(engine, member_id, "999999999")

    assert points_of(engine, member_id).held == 0
    assert redemptions_of(engine, member_id) == 0


def test_fulfilling_spends_the_points_once_and_announces_it_once(engine, world):
    merchant, item, member_id = world
    placed, _ = place(engine, member_id, item["id"])

    for _ in range(2):
        with unit(engine) as uow:
            done = uow.commit(
                boutique.fulfil_redemption(uow, terms(merchant), int(placed["id"]), tracking_reference="T-1")
            )
            assert (done.status, done.tracking_reference) == ("fulfilled", "T-1")

    assert (points_of(engine, member_id).balance, points_of(engine, member_id).held) == (40, 0)
    assert events_of(engine, int(merchant["id"]), placed["id"]).count("redemption.fulfilled") == 1


def test_cancelling_returns_the_points_and_the_unit_once(engine, world):
    merchant, item, member_id = world
    placed, _ = place(engine, member_id, item["id"])

    for _ in range(2):
        with unit(engine) as uow:
            done = uow.commit(boutique.cancel_redemption(uow, terms(merchant), int(placed["id"]), reason="Broken"))
            assert (done.status, done.cancel_reason) == ("cancelled", "Broken")

    assert stock_of(engine, item["id"]) == 3
    assert (points_of(engine, member_id).balance, points_of(engine, member_id).held) == (100, 0)
    assert events_of(engine, int(merchant["id"]), placed["id"]).count("redemption.cancelled") == 1


def test_a_cancelled_redemption_cannot_be_fulfilled_nor_another_merchants(engine, world, new_merchant):
    merchant, item, member_id = world
    placed, _ = place(engine, member_id, item["id"])
    with unit(engine) as uow:
        uow.commit(boutique.cancel_redemption(uow, terms(merchant), int(placed["id"]), reason="Broken"))

    with unit(engine) as uow, pytest.raises(RedemptionResolved, match="cancelled"):
        boutique.fulfil_redemption(uow, terms(merchant), int(placed["id"]), tracking_reference=None)
    with unit(engine) as uow, pytest.raises(RedemptionNotFound):
        boutique.cancel_redemption(uow, terms(new_merchant()), int(placed["id"]), reason="Not mine")


def test_the_expiry_job_cancels_placed_redemptions_past_their_timeout_once(engine, world):
    _, item, member_id = world
    placed, _ = place(engine, member_id, item["id"])
    late = ledger.utcnow() + timedelta(seconds=TIMEOUT_S + 1)

    with unit(engine, now=late - timedelta(seconds=2)) as uow:
        boutique.expire_holds(uow)
    assert stock_of(engine, item["id"]) == 2
    with unit(engine, now=late) as uow:
        first = boutique.expire_holds(uow)
    with unit(engine, now=late) as uow:
        second = boutique.expire_holds(uow)

    assert first >= 1 and second == 0
    assert stock_of(engine, item["id"]) == 3
    assert points_of(engine, member_id).held == 0
    with Session(engine) as s:
        assert s.get(Redemption, int(placed["id"])).status == "expired"
        assert ledger.verify(s).violations == []
