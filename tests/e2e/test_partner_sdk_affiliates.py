"""Commissions, leads, programs, links, reports and affiliate webhooks through the SDK, on loopback."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

import ledger
from app.clicks import services as clicks
from partner_sdk import (
    AffiliateClient,
    AuthenticationError,
    Conflict,
    MerchantClient,
    NotFound,
    ValidationError,
)
from tests.e2e.sdk_world import SHOP_DOMAIN, click, follow, new_affiliate_client, new_merchant_client
from tests.factories.names import unique, unique_email

LANDING = f"https://{SHOP_DOMAIN}/shoes?color=red"


@dataclass
class Network:
    merchant: MerchantClient
    affiliate: AffiliateClient
    program_id: str
    link_url: str
    link_id: str


@pytest.fixture
def network(live_server: Any) -> Network:
    merchant = new_merchant_client(live_server)
    affiliate = new_affiliate_client(live_server)
    program = merchant.create_program(
        unique("Spring"),
        {"type": "percent", "basis_points": 800},
        network_fee_bps=1000,
        lead_amount_cents=250,
        auto_approve_affiliates=False,
    )
    applied = affiliate.apply_to_program(program.id)
    merchant.approve_application(program.id, applied.id)
    link = affiliate.create_link(program.id, LANDING)
    return Network(merchant, affiliate, program.id, link.url, link.id)


def order_with_click(network: Network, amount_cents: int = 10_000) -> Any:
    return network.merchant.record_order(
        unique("order"), amount_cents, unique_email(), click_token=click(network.link_url)
    )


def verify_ledger(engine: Any) -> None:
    with Session(engine) as session:
        assert ledger.verify(session).violations == []


def test_an_order_with_a_click_token_answers_its_pending_commission(network: Network, engine: Any) -> None:
    recorded = order_with_click(network, 10_000)

    assert recorded.commission is not None
    assert recorded.attribution_error is None
    assert (recorded.commission.status, recorded.commission.amount_cents, recorded.commission.currency) == (
        "pending",
        800,
        "EUR",
    )
    shown = network.merchant.get_commission(recorded.commission.id)
    assert (shown.kind, shown.status, shown.amount_cents, shown.program_id) == (
        "sale",
        "pending",
        800,
        network.program_id,
    )
    assert shown.order_id == recorded.order_id
    assert shown.link_id == network.link_id
    verify_ledger(engine)


def test_an_order_with_a_forged_token_answers_the_attribution_error_and_lists_it(network: Network) -> None:
    recorded = network.merchant.record_order(unique("order"), 5_000, unique_email(), click_token="forged-token")

    assert recorded.commission is None
    assert recorded.attribution_error is not None
    errors = list(network.merchant.iter_attribution_errors(code=recorded.attribution_error))
    assert [e.order_id for e in errors] == [recorded.order_id]
    assert errors[0].code == recorded.attribution_error


def test_a_lead_with_a_click_earns_the_programs_lead_amount_and_a_replay_says_so(network: Network) -> None:
    token, lead_id = click(network.link_url), unique("lead")

    first = network.merchant.record_lead(lead_id, token)
    again = network.merchant.record_lead(lead_id, token)

    assert first.lead_id == lead_id and first.replayed is False
    assert first.commission is not None and first.commission.amount_cents == 250
    assert again.replayed is True and again.commission == first.commission
    [listed] = network.merchant.list_commissions(status="pending").data
    assert (listed.kind, listed.lead_id) == ("lead", lead_id)


def test_commissions_are_approved_rejected_and_decided_in_bulk(network: Network, engine: Any) -> None:
    ids = [order_with_click(network).commission.id for _ in range(6)]  # type: ignore[union-attr]

    approved = network.merchant.approve_commission(ids[0])
    rejected = network.merchant.reject_commission(ids[1], "Returned within the window")
    in_bulk = network.merchant.bulk_decide_commissions(
        [{"id": ids[2], "action": "approve"}, {"id": ids[3], "action": "reject", "reason": "Fraud"}]
    )
    from_csv = network.merchant.bulk_decide_commissions_csv(
        f"id,action,reason\n{ids[4]},approve,\n{ids[5]},reject,Cancelled\n"
    )

    assert (approved.status, approved.decided_at is not None) == ("approved", True)
    assert (rejected.status, rejected.reason) == ("rejected", "Returned within the window")
    assert [(c.id, c.status) for c in in_bulk] == [(ids[2], "approved"), (ids[3], "rejected")]
    assert [(c.id, c.status, c.reason) for c in from_csv] == [
        (ids[4], "approved", None),
        (ids[5], "rejected", "Cancelled"),
    ]
    assert sorted(c.id for c in network.merchant.iter_commissions(status="approved")) == sorted(
        [ids[0], ids[2], ids[4]]
    )
    assert network.merchant.approve_commission(ids[0]).decided_at == approved.decided_at  # a retry answers the same
    with pytest.raises(Conflict):
        network.merchant.approve_commission(ids[1])  # rejected already
    verify_ledger(engine)


def test_commissions_are_listed_over_several_pages_with_their_filters(network: Network) -> None:
    ids = [order_with_click(network).commission.id for _ in range(5)]  # type: ignore[union-attr]

    first = network.merchant.list_commissions(program_id=network.program_id, limit=2)
    every = list(network.merchant.iter_commissions(program_id=network.program_id, page_size=2))

    assert len(first.data) == 2 and first.next_cursor is not None
    assert [c.id for c in every] == ids
    assert list(network.merchant.iter_commissions(status="paid", page_size=2)) == []
    honest = [c.id for c in network.merchant.iter_commissions(suspicious=False, page_size=2)]
    suspicious = [c.id for c in network.merchant.iter_commissions(suspicious=True, page_size=2)]
    assert sorted(honest + suspicious) == sorted(ids)


def test_bad_commission_calls_raise_typed_errors(network: Network, live_server: Any) -> None:
    commission_id = order_with_click(network).commission.id  # type: ignore[union-attr]
    stranger = new_merchant_client(live_server)

    with pytest.raises(NotFound):
        stranger.approve_commission(commission_id)
    with pytest.raises(NotFound):
        stranger.get_commission(commission_id)
    with pytest.raises(ValidationError) as bad_reason:
        network.merchant.reject_commission(commission_id, "")
    with pytest.raises(ValidationError) as bad_status:
        network.merchant.list_commissions(status="lost")
    with pytest.raises(ValidationError) as bad_rule:
        network.merchant.create_program("Broken", {"type": "percent", "basis_points": -5})

    assert "reason" in bad_reason.value.errors
    assert "status" in bad_status.value.errors
    assert any(name.startswith("commission") for name in bad_rule.value.errors)
    assert network.merchant.get_commission(commission_id).status == "pending"
    assert stranger.list_commissions().data == []


def test_programs_are_created_listed_paused_and_resumed(network: Network) -> None:
    second = network.merchant.create_program(unique("Fixed"), {"type": "fixed", "amount_cents": 500}, hold_days=14)

    paused = network.merchant.pause_program(second.id)
    renamed = network.merchant.update_program(second.id, name="Autumn", attribution_window_days=45)
    resumed = network.merchant.resume_program(second.id)

    assert (second.commission["type"], second.commission["amount_cents"]) == ("fixed", 500)
    assert (second.hold_days, second.active) == (14, True)
    assert paused.active is False
    assert (renamed.name, renamed.attribution_window_days, renamed.active) == ("Autumn", 45, False)
    assert resumed.active is True
    assert network.merchant.get_program(second.id).name == "Autumn"
    assert [p.id for p in network.merchant.iter_programs(page_size=1)] == [network.program_id, second.id]


def test_applications_are_listed_and_refused(network: Network, live_server: Any) -> None:
    newcomer = new_affiliate_client(live_server)

    applied = newcomer.apply_to_program(network.program_id)
    pending = network.merchant.list_program_applications(network.program_id, status="pending").data
    refused = network.merchant.refuse_application(network.program_id, applied.id)

    assert applied.status == "pending"
    assert [a.id for a in pending] == [applied.id]
    assert refused.status == "refused" and refused.decided_at is not None
    assert [a.status for a in newcomer.iter_applications()] == ["refused"]
    assert [a.id for a in network.merchant.iter_program_applications(network.program_id, page_size=1)] == [
        a.id for a in network.affiliate.list_applications().data
    ] + [applied.id]
    with pytest.raises(AuthenticationError) as forbidden:
        newcomer.create_link(network.program_id, LANDING)
    assert forbidden.value.status == 403


def test_links_are_created_listed_over_pages_and_paused(network: Network) -> None:
    more = [network.affiliate.create_link(network.program_id, f"https://{SHOP_DOMAIN}/p/{n}") for n in range(3)]

    every = list(network.affiliate.iter_links(page_size=2))
    first = network.affiliate.list_links(limit=2)
    paused = network.affiliate.pause_link(more[0].id)

    assert [link.id for link in every] == [network.link_id] + [link.id for link in more]
    assert first.next_cursor is not None and len(first.data) == 2
    assert network.affiliate.get_link(more[1].id).landing_url == f"https://{SHOP_DOMAIN}/p/1"
    assert paused.active is False
    assert follow(paused.url)[0] == 404
    assert network.affiliate.resume_link(more[0].id).active is True


def test_a_landing_url_off_the_merchants_domains_raises_validation_error(network: Network) -> None:
    with pytest.raises(ValidationError) as refused:
        network.affiliate.create_link(network.program_id, "https://evil.example/")

    assert "landing_url" in refused.value.errors


def test_the_report_comes_as_typed_rows_and_as_csv_with_the_same_figures(network: Network, app: Any) -> None:
    order_with_click(network, 10_000)
    click(network.link_url)
    clicks.flush(app)
    today = dt.datetime.now(dt.UTC).date()

    report = network.affiliate.report(today, today, group_by="link")
    text = network.affiliate.report_csv(today.isoformat(), today.isoformat(), group_by="link")

    assert (report.from_date, report.to_date, report.group_by) == (today.isoformat(), today.isoformat(), "link")
    [row] = report.rows
    assert (row.key, row.clicks, row.orders, row.commission_pending_cents) == (network.link_id, 2, 1, 800)
    [csv_row] = list(csv.DictReader(io.StringIO(text)))
    assert csv_row == {name: str(value) for name, value in row.raw.items()}
    with pytest.raises(ValidationError):
        network.affiliate.report(today, today - dt.timedelta(days=1))


def test_affiliates_manage_webhook_endpoints_for_commission_and_payout_events_only(network: Network) -> None:
    created = network.affiliate.create_webhook_endpoint("https://hooks.blog.example/in", ["commission.approved"])
    merchant_endpoint = network.merchant.create_webhook_endpoint("https://hooks.shop.example/in", ["order.refunded"])

    assert created.secret.startswith("whsec_")
    assert network.affiliate.list_event_types() == [
        "commission.created",
        "commission.approved",
        "commission.rejected",
        "commission.paid",
        "payout.paid",
    ]
    assert "order.refunded" in network.merchant.list_event_types()
    assert [e.id for e in network.affiliate.iter_webhook_endpoints()] == [created.endpoint.id]
    with pytest.raises(ValidationError) as refused:
        network.affiliate.create_webhook_endpoint("https://hooks.blog.example/in", ["order.points_awarded"])
    assert "events" in refused.value.errors
    with pytest.raises(NotFound):
        network.affiliate.get_webhook_endpoint(merchant_endpoint.endpoint.id)
    with pytest.raises(NotFound):
        network.merchant.delete_webhook_endpoint(created.endpoint.id)
    rotated = network.affiliate.rotate_webhook_secret(created.endpoint.id)
    assert rotated.secret != created.secret


def test_an_affiliate_key_cannot_call_merchant_routes(network: Network, live_server: Any) -> None:
    as_merchant = MerchantClient(live_server.url, network.affiliate._http._api_key, max_retries=0)

    with pytest.raises(AuthenticationError):
        as_merchant.list_commissions()
