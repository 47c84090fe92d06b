"""Parallel redemptions never overspend points nor oversell stock (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.boutique.models import CatalogItem
from tests.factories.boutique import KEY, reward
from tests.factories.members import csrf_of, member_with_points
from tests.integration.test_concurrency import run_together

PARALLEL = 50


def prepared_forms(app, member, item_id: str, count: int):
    """``count`` browsers of the same member, each on the confirmation page (own form key)."""
    cookie = member.get_cookie("session").value
    forms = []
    for _ in range(count):
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        page = browser.get(f"/items/{item_id}/redeem")
        html = page.get_data(as_text=True)
        data = {
            "csrf_token": csrf_of(page),
            "idempotency_key": KEY.search(html).group(1),
            "shipping_address": "1 Main St",
        }
        forms.append((browser, data))
    return forms


def redeem_in_parallel(app, member, item_id: str):
    forms = prepared_forms(app, member, item_id, PARALLEL)
    return run_together(PARALLEL, lambda i: forms[i][0].post(f"/items/{item_id}/redeem", data=forms[i][1]))


def stock_of(engine, item_id: str) -> int:
    with Session(engine) as s:
        return s.execute(select(CatalogItem.stock).where(CatalogItem.id == int(item_id))).scalar_one()


def test_50_parallel_redemptions_by_a_member_whose_points_cover_10_let_exactly_10_through(
    app, client, engine, merchant
):
    item = reward(client, merchant, points_price=10, stock=30)
    _, earned, member = member_with_points(app, engine, client, merchant)  # 100 points: 10 redemptions

    responses = redeem_in_parallel(app, member, item["id"])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] * 10 + [422] * 40
    refusals = {r.get_data(as_text=True).count("Not enough points") for r in responses if r.status_code == 422}
    assert refusals == {1}
    assert stock_of(engine, item["id"]) == 20
    with Session(engine) as s:
        points = ledger.member_points(s, earned["member_id"])
        assert (points.balance, points.held) == (100, 100)
        assert ledger.verify(s).violations == []


def test_50_parallel_redemptions_of_4_units_sell_exactly_4_and_stock_never_goes_below_zero(
    app, client, engine, merchant
):
    item = reward(client, merchant, points_price=1, stock=4)
    _, earned, member = member_with_points(app, engine, client, merchant)

    responses = redeem_in_parallel(app, member, item["id"])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] * 4 + [409] * 46
    assert all("out of stock" in r.get_data(as_text=True) for r in responses if r.status_code == 409)
    assert stock_of(engine, item["id"]) == 0
    with Session(engine) as s:
        assert ledger.member_points(s, earned["member_id"]).held == 4
        assert ledger.verify(s).violations == []
