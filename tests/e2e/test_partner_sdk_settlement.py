"""Payouts and statements read through the SDK, on loopback: the operator pays and
issues (plain HTTP with its key), the affiliate and the merchant read their own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from partner_sdk import AffiliateClient, MerchantClient, NotFound, Payout, Statement
from tests.e2e.sdk_world import SHOP_DOMAIN, click, operator_post
from tests.factories.names import unique, unique_email


def onboarded_merchant(live_server: Any) -> tuple[str, MerchantClient]:
    body = {
        "name": unique("Shop"),
        "domains": [SHOP_DOMAIN],
        "currency": "EUR",
        "earn_rule": {"points": 10, "per_amount_cents": 1500},
        "price_per_1000_points_cents": 500,
    }
    created = operator_post(live_server, "/v1/merchants", body)
    return created["id"], MerchantClient(live_server.url, created["api_key"], max_retries=0)


def onboarded_affiliate(live_server: Any) -> tuple[str, AffiliateClient]:
    body = {"name": unique("Blog"), "email": unique_email(), "website": "https://blog.example/"}
    created = operator_post(live_server, "/v1/affiliates", body)
    return created["id"], AffiliateClient(live_server.url, created["api_key"], max_retries=0)


def test_an_affiliate_reads_its_payouts_page_after_page(live_server: Any) -> None:
    _, merchant = onboarded_merchant(live_server)
    affiliate_id, affiliate = onboarded_affiliate(live_server)
    _, bystander = onboarded_affiliate(live_server)
    program = merchant.create_program(
        unique("Spring"), {"type": "percent", "basis_points": 800}, auto_approve_affiliates=True
    )
    affiliate.apply_to_program(program.id)
    link = affiliate.create_link(program.id, f"https://{SHOP_DOMAIN}/shoes")
    paid = []
    for amount_cents in (10_000, 20_000, 30_000):
        recorded = merchant.record_order(unique("order"), amount_cents, unique_email(), click_token=click(link.url))
        assert recorded.commission is not None
        merchant.approve_commission(recorded.commission.id)
        paid.append(
            operator_post(
                live_server,
                f"/v1/affiliates/{affiliate_id}/payouts",
                {"payout_id": unique("p"), "currency": "EUR", "reference": "SEPA"},
            )
        )
        shown = merchant.get_commission(recorded.commission.id)
        assert (shown.status, shown.payout_id) == ("paid", paid[-1]["id"])

    first = affiliate.list_payouts(limit=2)
    every = list(affiliate.iter_payouts(page_size=2))

    assert len(first.data) == 2 and first.next_cursor is not None
    assert all(isinstance(p, Payout) for p in every)
    assert [(p.id, p.amount_cents, p.commission_count, p.reference) for p in every] == [
        (p["id"], p["amount_cents"], 1, "SEPA") for p in paid
    ]
    assert [p.amount_cents for p in every] == [800, 1_600, 2_400]
    assert {(p.status, p.method, p.affiliate_id, p.merchant_id) for p in every} == {
        ("paid", "manual", affiliate_id, None)
    }
    assert all(p.paid_at is not None and p.stripe_transfer_id is None for p in every)
    assert list(bystander.iter_payouts()) == []


def test_a_merchant_reads_its_statements_and_not_another_ones(live_server: Any) -> None:
    merchant_id, merchant = onboarded_merchant(live_server)
    other_id, other = onboarded_merchant(live_server)
    merchant.record_order(unique("order"), 30_000, unique_email())
    issued = operator_post(
        live_server, f"/v1/merchants/{merchant_id}/statements", {"period_end": dt.datetime.now(dt.UTC).isoformat()}
    )
    foreign = operator_post(
        live_server, f"/v1/merchants/{other_id}/statements", {"period_end": dt.datetime.now(dt.UTC).isoformat()}
    )

    shown = merchant.get_statement(issued["id"])
    listed = list(merchant.iter_statements(page_size=1))

    assert isinstance(shown, Statement)
    assert (shown.id, shown.merchant_id, shown.period_end) == (issued["id"], merchant_id, issued["period_end"])
    [line] = shown.lines
    assert (line.currency, line.points_bought_cents, line.net_cents) == ("EUR", 100, 100)
    assert (shown.final, shown.liability) == (False, None)
    header, row = merchant.statement_csv(issued["id"]).splitlines()
    assert header == "statement_id,currency,category,entry_id,entry_kind,created_at,amount_cents"
    assert row.split(",")[:5] == [issued["id"], "EUR", "points_bought", *line.entry_ids, "earn"]
    assert row.split(",")[-1] == "100"
    collection = shown.collection
    assert (collection.status, collection.amount_cents, collection.stripe_payment_intent_id) == ("pending", 100, None)
    assert shown.log.tree_head is not None and shown.log.tree_head.tree_size > max(shown.log.leaf_indexes)
    assert [s.id for s in listed] == [issued["id"]]
    assert merchant.list_statements().data == [shown]
    with pytest.raises(NotFound):
        merchant.get_statement(foreign["id"])
    with pytest.raises(NotFound):
        merchant.statement_csv(foreign["id"])
    assert [s.id for s in other.iter_statements()] == [foreign["id"]]
