"""Affiliates manage their own webhook endpoints, limited to commission events, isolated from merchants."""

from __future__ import annotations

import pytest

from app.webhooks.schemas import EVENT_TYPES, EVENT_TYPES_BY_OWNER_KIND
from app.webhooks.services import emit
from ledger.types import utcnow
from tests.factories.affiliates import new_affiliate
from tests.factories.webhooks import register_endpoint

URL = "https://hooks.blog.example/loyalty"


@pytest.fixture
def affiliate(client, admin_headers) -> dict:
    return new_affiliate(client, admin_headers)


def create(client, headers, events):
    return register_endpoint(client, headers, url=URL, events=events)


def test_an_affiliate_registers_an_endpoint_for_commission_events(client, affiliate):
    created = create(client, affiliate["headers"], ["commission.created", "commission.approved"])

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["commission.approved", "commission.created"]
    listed = client.get("/v1/webhook-endpoints", headers=affiliate["headers"]).get_json()
    assert [e["id"] for e in listed["data"]] == [body["id"]]


@pytest.mark.parametrize("event", ["order.points_awarded", "redemption.placed", "points.expiring", "statement.issued"])
def test_an_affiliate_may_not_subscribe_to_merchant_events(client, affiliate, event):
    refused = create(client, affiliate["headers"], ["commission.created", event])

    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert "events" in refused.get_json()["errors"]
    assert client.get("/v1/webhook-endpoints", headers=affiliate["headers"]).get_json()["data"] == []


def test_an_affiliate_may_not_widen_an_endpoint_to_merchant_events(client, affiliate):
    endpoint = create(client, affiliate["headers"], ["commission.paid"]).get_json()

    refused = client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"events": ["order.refunded"]}, headers=affiliate["headers"]
    )

    assert refused.status_code == 422
    shown = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=affiliate["headers"]).get_json()
    assert shown["events"] == ["commission.paid"]


def test_merchants_may_subscribe_to_every_event(client, merchant):
    created = create(client, merchant["headers"], list(EVENT_TYPES))

    assert created.status_code == 201
    assert sorted(created.get_json()["events"]) == sorted(EVENT_TYPES)


def test_the_event_catalog_is_published_per_owner_kind(client, merchant, affiliate):
    for_merchant = client.get("/v1/webhook-endpoints/event-types", headers=merchant["headers"]).get_json()
    for_affiliate = client.get("/v1/webhook-endpoints/event-types", headers=affiliate["headers"]).get_json()

    assert for_merchant == {"owner_kind": "merchant", "events": list(EVENT_TYPES)}
    assert for_affiliate["owner_kind"] == "affiliate"
    assert for_affiliate["events"] == [e for e in EVENT_TYPES if e.startswith("commission.")] + ["payout.paid"]
    assert client.get("/v1/webhook-endpoints/event-types").status_code == 401


def test_merchants_and_affiliates_never_see_each_others_endpoints(client, merchant, affiliate, admin_headers):
    mine = create(client, affiliate["headers"], ["commission.created"]).get_json()
    theirs = create(client, merchant["headers"], ["order.refunded"]).get_json()
    other_affiliate = new_affiliate(client, admin_headers)

    assert [e["id"] for e in client.get("/v1/webhook-endpoints", headers=merchant["headers"]).get_json()["data"]] == [
        theirs["id"]
    ]
    for headers, foreign in (
        (merchant["headers"], mine),
        (affiliate["headers"], theirs),
        (other_affiliate["headers"], mine),
    ):
        path = f"/v1/webhook-endpoints/{foreign['id']}"
        assert client.get(path, headers=headers).status_code == 404
        assert client.patch(path, json={"enabled": False}, headers=headers).status_code == 404
        assert client.post(path + "/rotate-secret", headers=headers).status_code == 404
        assert client.get(path + "/attempts", headers=headers).status_code == 404
        assert client.delete(path, headers=headers).status_code == 404
    assert client.get(f"/v1/webhook-endpoints/{mine['id']}", headers=affiliate["headers"]).get_json()["enabled"] is True
    assert (
        client.get(f"/v1/webhook-endpoints/{theirs['id']}", headers=merchant["headers"]).get_json()["enabled"] is True
    )


def test_an_affiliate_endpoint_gets_its_own_commission_events_only(app, client, affiliate, session):
    endpoint = create(client, affiliate["headers"], ["commission.created"]).get_json()
    now = utcnow()

    with app.app_context():
        emitted = emit(session, "affiliate", int(affiliate["id"]), "commission.created", {"id": "1"}, now=now)
        elsewhere = emit(session, "merchant", int(affiliate["id"]), "commission.created", {"id": "1"}, now=now)
        with pytest.raises(ValueError, match="event catalog"):
            emit(session, "affiliate", int(affiliate["id"]), "order.points_awarded", {}, now=now)
    session.rollback()

    assert emitted is not None and emitted.startswith("evt_")
    assert elsewhere is None
    assert endpoint["events"] == ["commission.created"]


def test_the_affiliate_catalog_is_the_commission_events_and_its_payouts():
    assert EVENT_TYPES_BY_OWNER_KIND["affiliate"] == (
        "commission.created",
        "commission.approved",
        "commission.rejected",
        "commission.paid",
        "payout.paid",
    )
