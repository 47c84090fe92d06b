"""The boutique end to end through HTTP: merchants supply and fulfil, members
redeem on the web pages; the ledger rules hold after every flow."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from app.boutique import services as boutique
from app.boutique.models import CatalogItem, Redemption
from app.unit_of_work import UnitOfWork
from ledger import accounts
from ledger.types import utcnow
from tests.factories.boutique import redeem, reward
from tests.factories.members import csrf_of, earn, member_with_points, sign_in, web_client
from tests.factories.names import unique_email


def verify(engine):
    with Session(engine) as s:
        assert ledger.verify(s).violations == []


def redemptions_of(engine, email_client_member_id: str) -> list[Redemption]:
    with Session(engine) as s:
        return list(s.execute(select(Redemption).where(Redemption.member_id == int(email_client_member_id))).scalars())


def stock_of(engine, item_id: str) -> int:
    with Session(engine) as s:
        return s.execute(select(CatalogItem.stock).where(CatalogItem.id == int(item_id))).scalar_one()


def eur_balance(engine, name: str) -> int:
    with Session(engine) as s:
        found = accounts.find_account(s, name, "EUR")
        return accounts.balance(s, found) if found else 0


def test_a_physical_redemption_holds_points_then_fulfilment_spends_them_and_owes_the_supplier(
    app, client, engine, merchant
):
    item = reward(client, merchant, points_price=60, wholesale_value_cents=20)
    _, earned, member = member_with_points(app, engine, client, merchant)  # 100 points worth 50 cents
    margin_before = eur_balance(engine, accounts.REVENUE_MARGIN)

    placed = redeem(member, item["id"])

    assert placed.status_code == 303
    page = member.get("/points").get_data(as_text=True)
    assert 'data-testid="points-held">60<' in page
    assert stock_of(engine, item["id"]) == 4
    listed = client.get("/v1/redemptions", query_string={"status": "placed"}, headers=merchant["headers"]).get_json()
    assert [r["title"] for r in listed["data"]] == [item["title"]]
    assert listed["data"][0]["shipping_address"] == "1 Rue Test, Paris"
    redemption_id = listed["data"][0]["id"]
    verify(engine)

    done = client.post(
        f"/v1/redemptions/{redemption_id}/fulfil", json={"tracking_reference": "TRK-1"}, headers=merchant["headers"]
    )

    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "fulfilled"
    assert done.get_json()["tracking_reference"] == "TRK-1"
    # 60 of the member's points were worth 30 cents: 20 owed to the supplier, 10 of margin.
    assert eur_balance(engine, accounts.payable_account(merchant["id"])) == 20
    assert eur_balance(engine, accounts.REVENUE_MARGIN) - margin_before == 10
    with Session(engine) as s:
        points = ledger.member_points(s, earned["member_id"])
    assert (points.balance, points.held) == (40, 0)
    again = client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=merchant["headers"])
    assert again.status_code == 200 and again.get_json()["status"] == "fulfilled"
    orders = member.get("/orders").get_data(as_text=True)
    assert "Fulfilled" in orders and "TRK-1" in orders
    verify(engine)


def test_a_voucher_is_fulfilled_at_once_and_its_code_works_once_at_the_supplier_only(app, client, engine, new_merchant):
    supplier, other = new_merchant(), new_merchant()
    item = reward(client, supplier, kind="voucher", voucher_codes=["CODE-AAAA-1"], points_price=50)
    _, earned, member = member_with_points(app, engine, client, supplier)

    assert redeem(member, item["id"]).status_code == 303

    assert "CODE-AAAA-1" in member.get("/orders").get_data(as_text=True)
    with Session(engine) as s:
        assert ledger.member_points(s, earned["member_id"]).balance == 50
    assert client.post("/v1/vouchers/CODE-AAAA-1/redeem", headers=other["headers"]).status_code == 404
    first = client.post("/v1/vouchers/CODE-AAAA-1/redeem", headers=supplier["headers"])
    assert first.status_code == 200 and first.get_json()["title"] == item["title"]
    second = client.post("/v1/vouchers/CODE-AAAA-1/redeem", headers=supplier["headers"])
    assert second.status_code == 409
    assert second.headers["Content-Type"] == "application/problem+json"
    assert stock_of(engine, item["id"]) == 0
    verify(engine)


def test_a_code_not_given_to_a_member_is_refused_at_checkout(client, new_merchant):
    supplier = new_merchant()
    reward(client, supplier, kind="voucher", voucher_codes=["FRESH-CODE-1"])

    assert client.post("/v1/vouchers/FRESH-CODE-1/redeem", headers=supplier["headers"]).status_code == 409
    assert client.post("/v1/vouchers/not%20a%20code/redeem", headers=supplier["headers"]).status_code == 404


def test_fulfil_and_cancel_by_a_merchant_that_is_not_the_supplier_answer_404(app, client, engine, new_merchant):
    supplier, other = new_merchant(), new_merchant()
    item = reward(client, supplier)
    _, _, member = member_with_points(app, engine, client, supplier)
    redeem(member, item["id"])
    redemption_id = client.get("/v1/redemptions", headers=supplier["headers"]).get_json()["data"][0]["id"]

    assert client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=other["headers"]).status_code == 404
    assert (
        client.post(
            f"/v1/redemptions/{redemption_id}/cancel", json={"reason": "x"}, headers=other["headers"]
        ).status_code
        == 404
    )
    assert client.get(f"/v1/redemptions/{redemption_id}", headers=other["headers"]).status_code == 404
    assert client.get("/v1/redemptions", headers=other["headers"]).get_json()["data"] == []
    assert client.get(f"/v1/redemptions/{redemption_id}", headers=supplier["headers"]).get_json()["status"] == "placed"
    verify(engine)


def test_cancel_releases_the_points_and_returns_the_stock(app, client, engine, merchant):
    item = reward(client, merchant, stock=1)
    _, earned, member = member_with_points(app, engine, client, merchant)
    redeem(member, item["id"])
    redemption_id = client.get("/v1/redemptions", headers=merchant["headers"]).get_json()["data"][0]["id"]
    assert stock_of(engine, item["id"]) == 0

    cancelled = client.post(
        f"/v1/redemptions/{redemption_id}/cancel", json={"reason": "Sold out in the shop"}, headers=merchant["headers"]
    )

    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert stock_of(engine, item["id"]) == 1
    with Session(engine) as s:
        points = ledger.member_points(s, earned["member_id"])
    assert (points.balance, points.held) == (100, 0)
    assert "Sold out in the shop" in member.get("/orders").get_data(as_text=True)
    assert (
        client.post(f"/v1/redemptions/{redemption_id}/fulfil", json={}, headers=merchant["headers"]).status_code == 409
    )
    verify(engine)


def test_insufficient_points_is_a_clear_refusal_that_holds_nothing(app, client, engine, merchant):
    item = reward(client, merchant, points_price=101)
    _, earned, member = member_with_points(app, engine, client, merchant)

    refused = redeem(member, item["id"])

    assert refused.status_code == 422
    assert "Not enough points: this reward needs 101, you have 100 available." in refused.get_data(as_text=True)
    assert stock_of(engine, item["id"]) == 5
    assert redemptions_of(engine, earned["member_id"]) == []
    verify(engine)


def test_out_of_stock_is_refused_and_the_points_stay_free(app, client, engine, merchant):
    item = reward(client, merchant, stock=1, points_price=10)
    _, earned, member = member_with_points(app, engine, client, merchant)
    assert redeem(member, item["id"]).status_code == 303

    refused = redeem(member, item["id"])

    assert refused.status_code == 409
    assert "out of stock" in refused.get_data(as_text=True)
    with Session(engine) as s:
        assert ledger.member_points(s, earned["member_id"]).held == 10
    verify(engine)


def test_an_inactive_item_cannot_be_redeemed(app, client, engine, merchant):
    item = reward(client, merchant)
    _, earned, member = member_with_points(app, engine, client, merchant)
    confirm = member.get(f"/items/{item['id']}/redeem")
    deactivated = client.post(f"/v1/catalog/items/{item['id']}/deactivate", headers=merchant["headers"])
    assert deactivated.get_json()["active"] is False

    refused = member.post(
        f"/items/{item['id']}/redeem",
        data={"csrf_token": csrf_of(confirm), "idempotency_key": "k" * 20, "shipping_address": "here"},
    )

    assert refused.status_code == 409
    assert "not available" in refused.get_data(as_text=True)
    assert member.get(f"/items/{item['id']}").status_code == 404
    assert redemptions_of(engine, earned["member_id"]) == []
    verify(engine)


def test_an_item_outside_its_active_window_is_not_offered(app, client, engine, merchant):
    later = (utcnow() + timedelta(days=2)).isoformat()
    item = reward(client, merchant, active_from=later)

    assert client.get(f"/items/{item['id']}").status_code == 404
    assert "No reward matches" in client.get("/", query_string={"q": item["title"]}).get_data(as_text=True)


def test_a_double_submitted_form_redeems_once(app, client, engine, merchant):
    item = reward(client, merchant, points_price=10)
    _, earned, member = member_with_points(app, engine, client, merchant)

    first = redeem(member, item["id"], key="same-key-0123456789")
    second = redeem(member, item["id"], key="same-key-0123456789")

    assert (first.status_code, second.status_code) == (303, 303)
    assert len(redemptions_of(engine, earned["member_id"])) == 1
    assert stock_of(engine, item["id"]) == 4
    verify(engine)


def test_a_placed_redemption_past_its_timeout_is_cancelled_by_the_job_once(app, client, engine, merchant):
    item = reward(client, merchant, stock=1)
    _, earned, member = member_with_points(app, engine, client, merchant)
    redeem(member, item["id"])
    [redemption] = redemptions_of(engine, earned["member_id"])
    late = redemption.expires_at + timedelta(seconds=1)

    with UnitOfWork(Session(engine), now=late - timedelta(seconds=2)) as uow:
        boutique.expire_holds(uow)
    assert redemptions_of(engine, earned["member_id"])[0].status == "placed"
    with UnitOfWork(Session(engine), now=late) as uow:
        first = boutique.expire_holds(uow)
    with UnitOfWork(Session(engine), now=late) as uow:
        second = boutique.expire_holds(uow)

    # Other tests' redemptions share the database: at least this one expired, and a rerun finds nothing.
    assert first >= 1 and second == 0
    [expired] = redemptions_of(engine, earned["member_id"])
    assert expired.status == "expired"
    assert stock_of(engine, item["id"]) == 1
    with Session(engine) as s:
        assert ledger.member_points(s, earned["member_id"]).held == 0
    late_fulfil = client.post(f"/v1/redemptions/{expired.id}/fulfil", json={}, headers=merchant["headers"])
    assert late_fulfil.status_code == 409
    verify(engine)


def test_the_expire_holds_job_runs_from_the_cli(runner):
    result = runner.invoke(args=["jobs", "run", "expire-holds"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("expire-holds: ")


def test_a_member_never_sees_another_members_orders_or_data(app, client, engine, merchant):
    item = reward(client, merchant, kind="voucher", generate_codes=2, points_price=10)
    alice_email, _, alice = member_with_points(app, engine, client, merchant)
    bob_email, _, bob = member_with_points(app, engine, client, merchant)
    redeem(alice, item["id"])
    alice_orders = alice.get("/orders").get_data(as_text=True)
    alice_code = next(c for c in item["generated_codes"] if c in alice_orders)

    bob_orders = bob.get("/orders").get_data(as_text=True)
    bob_export = bob.get("/account/export").get_json()

    assert alice_code not in bob_orders and item["title"] not in bob_orders
    assert bob_export["member"]["email"] == bob_email
    assert bob_export["redemptions"] == []
    assert alice_email not in bob.get("/account").get_data(as_text=True)
    assert alice.get("/account/export").get_json()["redemptions"][0]["voucher_code"] == alice_code


@pytest.mark.parametrize("path", ["/orders", "/points", "/account", "/account/export"])
def test_member_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")


def test_points_page_shows_balance_movements_with_merchant_and_reason_and_next_expiries(app, client, engine, merchant):
    item = reward(client, merchant, kind="voucher", generate_codes=1, points_price=30, title="Ten euros")
    _, earned, member = member_with_points(app, engine, client, merchant)
    redeem(member, item["id"])

    page = member.get("/points").get_data(as_text=True)

    assert 'data-testid="points-balance">70<' in page
    assert merchant["name"] in page
    assert "Reward: Ten euros" in page and "+100" in page and "-30" in page
    assert "Next expiries" in page and ">70<" in page


def test_catalog_search_category_and_within_balance_filters(app, client, engine, merchant):
    cheap = reward(client, merchant, title="Searchable Cheap Mug", category="kitchen", points_price=50)
    dear = reward(client, merchant, title="Searchable Dear Mug", category="kitchen", points_price=5000)
    _, _, member = member_with_points(app, engine, client, merchant)

    found = member.get("/", query_string={"q": "searchable"}).get_data(as_text=True)
    affordable = member.get("/", query_string={"q": "searchable", "affordable": "1"}).get_data(as_text=True)
    other_category = member.get("/", query_string={"q": "searchable", "category": "garden"}).get_data(as_text=True)

    assert cheap["title"] in found and dear["title"] in found
    assert cheap["title"] in affordable and dear["title"] not in affordable
    assert cheap["title"] not in other_category
    assert member.get("/", query_string={"category": "NOT valid!"}).status_code == 400


def test_deleting_the_account_erases_personal_data_keeps_the_ledger_and_ends_the_session(app, client, engine, merchant):
    item = reward(client, merchant, points_price=10)
    email, earned, member = member_with_points(app, engine, client, merchant)
    redeem(member, item["id"])
    page = member.get("/account")

    deleted = member.post("/account/delete", data={"csrf_token": csrf_of(page), "confirm": "DELETE"})

    assert deleted.status_code == 303
    assert member.get("/orders").status_code == 302
    with Session(engine) as s:
        points = ledger.member_points(s, earned["member_id"])
        from app.members.models import Member

        stored = s.get(Member, int(earned["member_id"]))
    assert (points.balance, points.held) == (100, 0)
    assert stored.email != email
    [redemption] = redemptions_of(engine, earned["member_id"])
    assert (redemption.status, redemption.shipping_address) == ("cancelled", "")
    assert stock_of(engine, item["id"]) == 5
    verify(engine)


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(app, client, engine, merchant):
    item = reward(client, merchant)
    _, earned, member = member_with_points(app, engine, client, merchant)

    refused = member.post(f"/items/{item['id']}/redeem", data={"idempotency_key": "k" * 20, "shipping_address": "x"})
    signin = web_client(app).post("/signin", data={"email": unique_email()})

    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    assert refused.headers["Content-Type"].startswith("text/html")
    assert signin.status_code == 400
    assert redemptions_of(engine, earned["member_id"]) == []


def test_earning_more_then_redeeming_again_works_after_sign_in(app, client, engine, merchant):
    item = reward(client, merchant, points_price=150)
    email, _, member = member_with_points(app, engine, client, merchant)
    assert redeem(member, item["id"]).status_code == 422
    earn(client, merchant, email, 15000)

    assert redeem(member, item["id"]).status_code == 303
    verify(engine)


def test_sign_in_link_for_a_new_address_creates_the_member(app, engine):
    email = unique_email()
    member = sign_in(app, engine, email)

    assert email in member.get("/account").get_data(as_text=True)


def test_redemptions_count_matches_the_supplier_listing(client, engine, merchant):
    with Session(engine) as s:
        total = s.execute(
            select(func.count(Redemption.id)).where(Redemption.merchant_id == int(merchant["id"]))
        ).scalar_one()
    assert len(client.get("/v1/redemptions", headers=merchant["headers"]).get_json()["data"]) == total


def test_the_catalog_is_paginated(client, merchant):
    from app.constants import CATALOG_PAGE_SIZE

    tag = unique_email().split("@")[0]
    for i in range(CATALOG_PAGE_SIZE + 1):
        reward(client, merchant, title=f"Paged {tag} {i:02d}")

    first = client.get("/", query_string={"q": tag}).get_data(as_text=True)
    more = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(more).get_data(as_text=True)

    assert first.count('class="card"') == CATALOG_PAGE_SIZE
    assert second.count('class="card"') == 1 and f"Paged {tag} {CATALOG_PAGE_SIZE:02d}" in second


def test_points_of_a_merchant_that_left_the_coalition_stay_redeemable(app, client, engine, new_merchant, admin_headers):
    leaving, supplier = new_merchant(), new_merchant()
    item = reward(client, supplier, points_price=100)
    _, earned, member = member_with_points(app, engine, client, leaving, 15_000)
    left = client.patch(f"/v1/merchants/{leaving['id']}", json={"active": False}, headers=admin_headers)
    assert left.get_json()["active"] is False and left.get_json()["deactivated_at"] is not None

    assert redeem(member, item["id"]).status_code == 303

    (placed,) = redemptions_of(engine, earned["member_id"])
    assert placed.points == 100
    verify(engine)
