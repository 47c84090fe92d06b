"""What a worker keeps of the programme (the tiers, whether any campaign exists) is
seen stale by no request after a change: two app instances stand for two workers."""

from __future__ import annotations

from tests.factories.campaigns import start_campaign
from tests.factories.names import unique_email
from tests.factories.orders import record_order
from tests.integration.test_key_cache import other_worker  # noqa: F401 (a fixture)

SILVER = [{"name": "Silver", "min_spend_cents": 50_000, "earn_multiplier_bp": 12_500}]


def bonuses(answer) -> list[tuple[str, int]]:
    return [(b["source"], b["points"]) for b in answer.get_json()["bonuses"]]


def test_tiers_set_through_one_worker_apply_to_the_other_workers_next_order(
    client,
    other_worker,  # noqa: F811
    admin_headers,
    merchant,
):
    assert bonuses(record_order(other_worker, merchant["headers"], amount_cents=60_000)) == []
    try:
        assert client.put("/v1/tiers", json=SILVER, headers=admin_headers).status_code == 200

        answer = record_order(other_worker, merchant["headers"], amount_cents=60_000, member_email=unique_email())

        assert bonuses(answer) == [("tier", 100)]
    finally:
        client.put("/v1/tiers", json=[], headers=admin_headers)
    assert bonuses(record_order(other_worker, merchant["headers"], amount_cents=60_000)) == []


def test_replacing_the_tiers_answers_the_new_list_though_the_old_one_was_kept(client, admin_headers):
    assert client.get("/v1/tiers", headers=admin_headers).get_json() == []
    try:
        replaced = client.put("/v1/tiers", json=SILVER, headers=admin_headers)

        assert [t["name"] for t in replaced.get_json()] == ["Silver"]
        assert [t["name"] for t in client.get("/v1/tiers", headers=admin_headers).get_json()] == ["Silver"]
    finally:
        client.put("/v1/tiers", json=[], headers=admin_headers)


def test_a_campaign_started_through_one_worker_applies_to_the_other_workers_next_order(
    client,
    other_worker,  # noqa: F811
    new_merchant,
):
    shop = new_merchant()
    assert bonuses(record_order(other_worker, shop["headers"], amount_cents=1500)) == []

    start_campaign(client, shop["headers"])

    assert bonuses(record_order(other_worker, shop["headers"], amount_cents=1500)) == [("campaign", 10)]
