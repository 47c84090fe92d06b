"""Every boutique change happens once: a retry with the same Idempotency-Key (or
the same redemption form) answers the first answer, the key sent for another
request is refused, and a decision taken twice answers the same."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.boutique.models import CatalogItem, Redemption
from ledger import accounts
from tests.factories.boutique import KEY, redeem, reward
from tests.factories.members import csrf_of, member_with_points
from tests.factories.names import unique

CONFLICT = "/problems/idempotency-conflict"


def keyed(merchant: dict, key: str) -> dict:
    return {**merchant["headers"], "Idempotency-Key": key}


def items_titled(engine, title: str) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count(CatalogItem.id)).where(CatalogItem.title == title)).scalar_one()


def stock_of(engine, item_id: str) -> int:
    with Session(engine) as s:
        return s.execute(select(CatalogItem.stock).where(CatalogItem.id == int(item_id))).scalar_one()


def points_of(engine, member_id: str) -> ledger.MemberPoints:
    with Session(engine) as s:
        return ledger.member_points(s, member_id)


def placed(client, merchant: dict) -> tuple[dict, str]:
    return reward(client, merchant, points_price=60, wholesale_value_cents=20, stock=3), unique("k")


def lamp_body(**overrides) -> dict:
    body = {
        "kind": "physical",
        "title": unique("Lamp"),
        "category": "home",
        "points_price": 100,
        "wholesale_value_cents": 300,
        "stock": 5,
    }
    return {**body, **overrides}


def test_creating_an_item_twice_with_a_key_creates_one_and_another_body_is_409(client, engine, merchant):
    body, key = lamp_body(), unique("k")

    first = client.post("/v1/catalog/items", json=body, headers=keyed(merchant, key))
    again = client.post("/v1/catalog/items", json=body, headers=keyed(merchant, key))
    other = client.post("/v1/catalog/items", json={**body, "stock": 6}, headers=keyed(merchant, key))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert other.status_code == 409 and other.get_json()["type"] == CONFLICT
    assert items_titled(engine, body["title"]) == 1


def test_adding_codes_twice_with_a_key_adds_them_once_and_other_codes_are_409(client, engine, merchant):
    voucher = reward(client, merchant, kind="voucher", voucher_codes=[unique("V").upper()])
    path, key = f"/v1/catalog/items/{voucher['id']}/codes", unique("k")
    codes = {"voucher_codes": [unique("A").upper(), unique("B").upper()]}

    first = client.post(path, json=codes, headers=keyed(merchant, key))
    again = client.post(path, json=codes, headers=keyed(merchant, key))
    other = client.post(path, json={"voucher_codes": [unique("C").upper()]}, headers=keyed(merchant, key))

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.get_json() == first.get_json() == {"added": 2, "generated_codes": [], "stock": 3}
    assert other.get_json()["type"] == CONFLICT
    assert stock_of(engine, voucher["id"]) == 3


def test_an_update_and_a_deactivation_with_a_key_replay_and_another_update_is_409(client, merchant):
    item, key = reward(client, merchant), unique("k")
    path = f"/v1/catalog/items/{item['id']}"

    first = client.patch(path, json={"points_price": 150}, headers=keyed(merchant, key))
    again = client.patch(path, json={"points_price": 150}, headers=keyed(merchant, key))
    other = client.patch(path, json={"points_price": 175}, headers=keyed(merchant, key))
    off = [client.post(f"{path}/deactivate", headers=keyed(merchant, "off-" + key)) for _ in range(2)]

    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 409)
    assert again.get_json() == first.get_json() and first.get_json()["points_price"] == 150
    assert client.get(path, headers=merchant["headers"]).get_json()["points_price"] == 150
    assert [r.status_code for r in off] == [200, 200] and off[0].get_json() == off[1].get_json()
    assert off[0].get_json()["active"] is False


@pytest.mark.parametrize("decision, body", [("fulfil", {"tracking_reference": "TRK-9"}), ("cancel", {"reason": "No"})])
def test_a_decision_taken_twice_answers_the_same_and_counts_once(app, client, engine, merchant, decision, body):
    item, _ = placed(client, merchant)
    _, earned, member = member_with_points(app, engine, client, merchant)
    assert redeem(member, item["id"]).status_code == 303
    [redemption] = client.get(
        "/v1/redemptions", query_string={"status": "placed"}, headers=merchant["headers"]
    ).get_json()["data"]
    path = f"/v1/redemptions/{redemption['id']}/{decision}"

    first = client.post(path, json=body, headers=merchant["headers"])
    again = client.post(path, json=body, headers=merchant["headers"])
    keyed_twice = [client.post(path, json=body, headers=keyed(merchant, "d-" + decision)) for _ in range(2)]

    assert [first.status_code, again.status_code] + [r.status_code for r in keyed_twice] == [200] * 4
    assert again.get_json() == first.get_json() == keyed_twice[0].get_json() == keyed_twice[1].get_json()
    with Session(engine) as s:
        points = ledger.member_points(s, earned["member_id"])
        payable = accounts.find_account(s, accounts.payable_account(merchant["id"]), "EUR")
        owed = accounts.balance(s, payable) if payable else 0
    if decision == "fulfil":
        assert (points.balance, points.held, owed) == (40, 0, 20)
    else:
        assert (points.balance, points.held, owed) == (100, 0, 0)
        assert stock_of(engine, item["id"]) == 3


def test_a_voucher_accepted_with_a_key_replays_and_without_one_is_used_already(app, client, engine, new_merchant):
    supplier = new_merchant()
    voucher = reward(client, supplier, kind="voucher", generate_codes=1, points_price=10)
    _, _, member = member_with_points(app, engine, client, supplier)
    assert redeem(member, voucher["id"]).status_code == 303
    [redemption] = client.get("/v1/redemptions", headers=supplier["headers"]).get_json()["data"]
    path = f"/v1/vouchers/{redemption['voucher_code']}/redeem"

    first = client.post(path, headers=keyed(supplier, "v-1"))
    again = client.post(path, headers=keyed(supplier, "v-1"))
    unkeyed = client.post(path, headers=supplier["headers"])

    assert (first.status_code, again.status_code, unkeyed.status_code) == (200, 200, 409)
    assert again.get_json() == first.get_json()


def test_a_redemption_form_sent_again_for_another_item_is_409_on_the_page_and_changes_nothing(
    app, client, engine, merchant
):
    first_item, _ = placed(client, merchant)
    other_item = reward(client, merchant, points_price=10, stock=3)
    _, earned, member = member_with_points(app, engine, client, merchant)
    assert redeem(member, first_item["id"], key="form-key-0123456789").status_code == 303
    before = points_of(engine, earned["member_id"])

    reused = redeem(member, other_item["id"], key="form-key-0123456789")

    html = reused.get_data(as_text=True)
    assert reused.status_code == 409 and reused.mimetype == "text/html"
    assert "already sent for another reward" in html
    assert 'name="idempotency_key"' in html and KEY.search(html).group(1) != "form-key-0123456789"
    assert points_of(engine, earned["member_id"]) == before and before.held == 60
    assert (stock_of(engine, first_item["id"]), stock_of(engine, other_item["id"])) == (2, 3)
    with Session(engine) as s:
        count = select(func.count(Redemption.id)).where(Redemption.member_id == int(earned["member_id"]))
        assert s.execute(count).scalar_one() == 1


def test_a_redemption_form_sent_again_with_another_address_is_409(app, client, engine, merchant):
    item, _ = placed(client, merchant)
    _, _, member = member_with_points(app, engine, client, merchant)
    assert redeem(member, item["id"], key="form-key-abcdefghij").status_code == 303
    page = member.get(f"/items/{item['id']}/redeem")
    data = {"csrf_token": csrf_of(page), "idempotency_key": "form-key-abcdefghij", "shipping_address": "2 Rue Autre"}

    reused = member.post(f"/items/{item['id']}/redeem", data=data)

    assert reused.status_code == 409 and reused.mimetype == "text/html"
    assert stock_of(engine, item["id"]) == 2
