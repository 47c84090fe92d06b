"""Campaigns over HTTP: merchants run their own, the operator coalition-wide ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.types import utcnow
from tests.factories.campaigns import campaign_body, start_campaign, stored_campaign
from tests.factories.names import unique
from tests.integration.test_auth_and_errors import assert_problem
from tests.integration.test_idempotent_creates import count


def operator_only_conditions() -> dict:
    # The run shares one database: an operator campaign must not match other tests' orders.
    return {"tier": unique("T")[:40]}


def every_id(client, headers) -> list[str]:
    ids, cursor = [], None
    while True:
        query = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/campaigns", query_string=query, headers=headers).get_json()
        ids += [campaign["id"] for campaign in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_a_merchant_starts_a_campaign_of_its_own(client, merchant):
    body = campaign_body(
        effect={"type": "bonus", "points": 500},
        conditions={"first_order": True, "min_amount_cents": 5000, "categories": ["bikes", "tools"], "tier": "Gold"},
        budget_points=2500,
    )

    created = client.post("/v1/campaigns", json=body, headers=merchant["headers"])

    assert created.status_code == 201, created.get_json()
    campaign = created.get_json()
    assert set(campaign) == {
        "id",
        "owner",
        "merchant_id",
        "offer_id",
        "name",
        "starts_at",
        "ends_at",
        "effect",
        "conditions",
        "budget_points",
        "points_awarded",
        "points_remaining",
        "status",
        "created_at",
        "paused_at",
        "ended_at",
    }
    assert isinstance(campaign["id"], str)
    assert (campaign["owner"], campaign["merchant_id"]) == ("merchant", merchant["id"])
    assert campaign["effect"] == {"type": "bonus", "points": 500}
    assert campaign["conditions"] == body["conditions"]
    assert (campaign["budget_points"], campaign["points_awarded"], campaign["points_remaining"]) == (2500, 0, 2500)
    assert (campaign["status"], campaign["paused_at"], campaign["ended_at"]) == ("active", None, None)
    shown = client.get(f"/v1/campaigns/{campaign['id']}", headers=merchant["headers"])
    assert (shown.status_code, shown.get_json()) == (200, campaign)


def test_the_operator_starts_a_coalition_wide_campaign_and_sees_every_campaign(client, admin_headers, merchant):
    own = start_campaign(client, merchant["headers"])
    body = campaign_body(conditions=operator_only_conditions())

    created = client.post("/v1/campaigns", json=body, headers=admin_headers)

    assert created.status_code == 201, created.get_json()
    coalition = created.get_json()
    assert (coalition["owner"], coalition["merchant_id"]) == ("operator", None)
    assert {own["id"], coalition["id"]} <= set(every_id(client, admin_headers))
    assert client.get(f"/v1/campaigns/{own['id']}", headers=admin_headers).status_code == 200
    mine = client.get("/v1/campaigns", headers=merchant["headers"]).get_json()
    assert [c["id"] for c in mine["data"]] == [own["id"]]


def test_a_scheduled_campaign_starts_later(client, merchant):
    starts_at = utcnow() + timedelta(days=2)
    campaign = start_campaign(
        client,
        merchant["headers"],
        starts_at=starts_at.isoformat(),
        ends_at=(starts_at + timedelta(days=3)).isoformat(),
    )

    assert campaign["status"] == "scheduled"


def test_pause_resume_and_end_move_the_status_and_repeat_harmlessly(client, merchant):
    campaign = start_campaign(client, merchant["headers"])
    path = f"/v1/campaigns/{campaign['id']}"

    paused = client.post(f"{path}/pause", headers=merchant["headers"])
    paused_again = client.post(f"{path}/pause", headers=merchant["headers"])
    resumed = client.post(f"{path}/resume", headers=merchant["headers"])
    resumed_again = client.post(f"{path}/resume", headers=merchant["headers"])
    ended = client.post(f"{path}/end", headers=merchant["headers"])
    ended_again = client.post(f"{path}/end", headers=merchant["headers"])

    assert (paused.status_code, paused.get_json()["status"]) == (200, "paused")
    assert paused.get_json()["paused_at"] is not None
    assert (paused_again.status_code, paused_again.get_json()) == (200, paused.get_json())
    assert (resumed.get_json()["status"], resumed.get_json()["paused_at"]) == ("active", None)
    assert resumed_again.get_json() == resumed.get_json()
    assert (ended.status_code, ended.get_json()["status"]) == (200, "ended")
    assert ended.get_json()["ended_at"] is not None
    assert (ended_again.status_code, ended_again.get_json()) == (200, ended.get_json())
    assert_problem(client.post(f"{path}/resume", headers=merchant["headers"]), 409)
    assert_problem(client.post(f"{path}/pause", headers=merchant["headers"]), 409)
    assert client.get(path, headers=merchant["headers"]).get_json() == ended.get_json()


def test_a_campaign_past_its_end_is_ended_without_being_ended(client, engine, merchant):
    then = utcnow() - timedelta(days=10)
    campaign_id = stored_campaign(engine, int(merchant["id"]), now=then, ends_at=then + timedelta(days=1))

    shown = client.get(f"/v1/campaigns/{campaign_id}", headers=merchant["headers"]).get_json()

    assert (shown["status"], shown["ended_at"]) == ("ended", None)
    assert_problem(client.post(f"/v1/campaigns/{campaign_id}/resume", headers=merchant["headers"]), 409)


def test_the_list_filters_on_the_derived_status(client, engine, merchant):
    headers = merchant["headers"]
    active = start_campaign(client, headers)
    paused = start_campaign(client, headers)
    client.post(f"/v1/campaigns/{paused['id']}/pause", headers=headers)
    later = utcnow() + timedelta(days=1)
    scheduled = start_campaign(
        client, headers, starts_at=later.isoformat(), ends_at=(later + timedelta(days=1)).isoformat()
    )
    ended = start_campaign(client, headers)
    client.post(f"/v1/campaigns/{ended['id']}/end", headers=headers)
    then = utcnow() - timedelta(days=10)
    expired = str(stored_campaign(engine, int(merchant["id"]), now=then, ends_at=then + timedelta(days=1)))

    def listed(status):
        page = client.get("/v1/campaigns", query_string={"status": status}, headers=headers).get_json()
        return [c["id"] for c in page["data"]]

    assert listed("active") == [active["id"]]
    assert listed("paused") == [paused["id"]]
    assert listed("scheduled") == [scheduled["id"]]
    assert listed("ended") == [ended["id"], expired]
    assert_problem(client.get("/v1/campaigns?status=over", headers=headers), 422)


def test_the_list_is_paginated(client, merchant):
    made = [start_campaign(client, merchant["headers"])["id"] for _ in range(3)]

    first = client.get("/v1/campaigns?limit=2", headers=merchant["headers"]).get_json()
    rest = client.get(
        "/v1/campaigns", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=merchant["headers"]
    ).get_json()

    assert [c["id"] for c in first["data"] + rest["data"]] == made
    assert rest["next_cursor"] is None


def test_another_merchant_finds_nothing_and_changes_nothing(client, new_merchant):
    owner, other = new_merchant(), new_merchant()
    campaign = start_campaign(client, owner["headers"])
    path = f"/v1/campaigns/{campaign['id']}"

    for action in ("pause", "resume", "end"):
        assert_problem(client.post(f"{path}/{action}", headers=other["headers"]), 404)
    assert_problem(client.get(path, headers=other["headers"]), 404)
    assert client.get("/v1/campaigns", headers=other["headers"]).get_json()["data"] == []
    assert client.get(path, headers=owner["headers"]).get_json() == campaign


def test_the_operator_may_pause_a_merchants_campaign(client, admin_headers, merchant):
    campaign = start_campaign(client, merchant["headers"])

    paused = client.post(f"/v1/campaigns/{campaign['id']}/pause", headers=admin_headers)

    assert (paused.status_code, paused.get_json()["status"]) == (200, "paused")


def test_an_affiliate_key_is_refused(client, admin_headers):
    from tests.factories.affiliates import new_affiliate

    affiliate = new_affiliate(client, admin_headers)

    assert_problem(client.post("/v1/campaigns", json=campaign_body(), headers=affiliate["headers"]), 401)
    assert_problem(client.get("/v1/campaigns", headers=affiliate["headers"]), 401)


def _in(days: float) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


_IN_TWO_DAYS = _in(2)
INVALID = {
    "empty name": ({"name": ""}, "name"),
    "long name": ({"name": "n" * 121}, "name"),
    "ends before it starts": ({"starts_at": _in(2), "ends_at": _in(1)}, "ends_at"),
    "ends as it starts": ({"starts_at": _IN_TWO_DAYS, "ends_at": _IN_TWO_DAYS}, "ends_at"),
    "ended already": ({"starts_at": _in(-3), "ends_at": _in(-1)}, "ends_at"),
    "longer than 366 days": ({"starts_at": _in(0), "ends_at": _in(367)}, "ends_at"),
    "beyond the last UTC instant": (
        {"starts_at": "9999-12-31T00:00:00-05:00", "ends_at": "9999-12-31T20:00:00-05:00"},
        "ends_at",
    ),
    "before the first UTC instant": (
        {"starts_at": "0001-01-01T01:00:00+05:00", "ends_at": "0001-01-02T00:00:00+05:00"},
        "starts_at",
    ),
    "naive time": ({"ends_at": "2030-01-01T00:00:00"}, "ends_at"),
    "factor of 1x": ({"effect": {"type": "multiplier", "factor_bp": 10000}}, "effect"),
    "factor above 10x": ({"effect": {"type": "multiplier", "factor_bp": 100001}}, "effect"),
    "multiplier without factor": ({"effect": {"type": "multiplier"}}, "effect"),
    "multiplier with points": ({"effect": {"type": "multiplier", "factor_bp": 20000, "points": 5}}, "effect"),
    "bonus of 0": ({"effect": {"type": "bonus", "points": 0}}, "effect"),
    "bonus too big": ({"effect": {"type": "bonus", "points": 1_000_001}}, "effect"),
    "bonus with factor": ({"effect": {"type": "bonus", "points": 5, "factor_bp": 20000}}, "effect"),
    "unknown effect": ({"effect": {"type": "cashback", "points": 5}}, "effect"),
    "fractional bonus": ({"effect": {"type": "bonus", "points": 1.5}}, "effect"),
    "budget of 0": ({"budget_points": 0}, "budget_points"),
    "budget too big": ({"budget_points": 10**12 + 1}, "budget_points"),
    "negative minimum": ({"conditions": {"min_amount_cents": -1}}, "conditions"),
    "minimum too big": ({"conditions": {"min_amount_cents": 10**12 + 1}}, "conditions"),
    "no categories": ({"conditions": {"categories": []}}, "conditions"),
    "51 categories": ({"conditions": {"categories": [f"c{i}" for i in range(51)]}}, "conditions"),
    "repeated category": ({"conditions": {"categories": ["a", "a"]}}, "conditions"),
    "empty category": ({"conditions": {"categories": [""]}}, "conditions"),
    "long category": ({"conditions": {"categories": ["c" * 41]}}, "conditions"),
    "empty tier": ({"conditions": {"tier": ""}}, "conditions"),
    "long tier": ({"conditions": {"tier": "t" * 41}}, "conditions"),
    "first order as 1": ({"conditions": {"first_order": 1}}, "conditions"),
    "unknown condition": ({"conditions": {"weekday": "saturday"}}, "conditions"),
    "unknown field": ({"colour": "red"}, "colour"),
}


@pytest.mark.parametrize("case", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_campaign_is_refused_and_nothing_is_created(client, merchant, case):
    overrides, field = case
    before = count(client, "/v1/campaigns", merchant["headers"])

    refused = client.post("/v1/campaigns", json=campaign_body(**overrides), headers=merchant["headers"])

    problem = assert_problem(refused, 422)
    assert field in problem["errors"], problem
    assert count(client, "/v1/campaigns", merchant["headers"]) == before


def test_a_missing_field_is_named(client, merchant):
    body = campaign_body()
    del body["budget_points"]

    problem = assert_problem(client.post("/v1/campaigns", json=body, headers=merchant["headers"]), 422)

    assert "budget_points" in problem["errors"]


def test_a_campaign_names_only_a_segment_of_its_owner(client, merchant, new_merchant, admin_headers):
    other = new_merchant()
    theirs = client.post("/v1/segments", json={"name": "Theirs", "rules": {}}, headers=other["headers"]).get_json()
    mine = client.post("/v1/segments", json={"name": "Mine", "rules": {}}, headers=merchant["headers"]).get_json()

    for segment_id in (theirs["id"], "999999999", "not-an-id"):
        body = campaign_body(conditions={"segment_id": segment_id})
        assert_problem(client.post("/v1/campaigns", json=body, headers=merchant["headers"]), 422)
    assert_problem(
        client.post("/v1/campaigns", json=campaign_body(conditions={"segment_id": mine["id"]}), headers=admin_headers),
        422,
    )
    created = client.post(
        "/v1/campaigns", json=campaign_body(conditions={"segment_id": mine["id"]}), headers=merchant["headers"]
    )
    assert created.status_code == 201 and created.get_json()["conditions"] == {"segment_id": mine["id"]}


def test_a_retried_create_gets_the_first_answer_and_creates_once(client, merchant):
    keyed = {**merchant["headers"], "Idempotency-Key": unique("idem")}
    body = campaign_body()

    first = client.post("/v1/campaigns", json=body, headers=keyed)
    retry = client.post("/v1/campaigns", json=body, headers=keyed)

    assert first.status_code == 201
    assert (retry.status_code, retry.get_json()) == (200, first.get_json())
    assert count(client, "/v1/campaigns", merchant["headers"]) == 1


def test_a_key_reused_for_another_campaign_is_refused(client, merchant):
    keyed = {**merchant["headers"], "Idempotency-Key": unique("idem")}
    assert client.post("/v1/campaigns", json=campaign_body(), headers=keyed).status_code == 201

    reused = client.post("/v1/campaigns", json=campaign_body(), headers=keyed)

    assert assert_problem(reused, 409)["type"].endswith("idempotency-conflict")
    assert count(client, "/v1/campaigns", merchant["headers"]) == 1


def test_the_same_key_from_two_merchants_makes_two_campaigns(client, new_merchant):
    first, second = new_merchant(), new_merchant()
    key = unique("idem")
    body = campaign_body()

    a = client.post("/v1/campaigns", json=body, headers={**first["headers"], "Idempotency-Key": key})
    b = client.post("/v1/campaigns", json=body, headers={**second["headers"], "Idempotency-Key": key})

    assert (a.status_code, b.status_code) == (201, 201)
    assert a.get_json()["id"] != b.get_json()["id"]
