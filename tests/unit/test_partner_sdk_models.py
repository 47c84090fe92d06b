"""The SDK's typed answers are built from the platform's JSON; no network."""

from __future__ import annotations

from partner_sdk import Commission, CommissionBrief, Lead, OrderResult, Report
from partner_sdk._transport import _query_value

COMMISSION = {
    "id": "7",
    "kind": "sale",
    "status": "pending",
    "amount_cents": 800,
    "base_amount_cents": 10_000,
    "fee_cents": 80,
    "currency": "EUR",
    "program_id": "3",
    "affiliate_id": "5",
    "link_id": "9",
    "order_id": "o-1",
    "lead_id": None,
    "adjusts_commission_id": None,
    "suspicious": False,
    "reason": None,
    "clicked_at": "2026-01-01T10:00:00+00:00",
    "hold_until": "2026-01-31T10:00:00+00:00",
    "decided_at": None,
    "created_at": "2026-01-01T10:05:00+00:00",
    "a_field_added_later": 1,
}
ORDER = {
    "order_id": "o-1",
    "member_id": "2",
    "amount_cents": 10_000,
    "net_amount_cents": 10_000,
    "currency": "EUR",
    "points_earned": 60,
    "points_net": 60,
    "points_balance": 60,
    "points_available": 60,
}


def test_a_commission_takes_its_fields_by_name_and_keeps_the_rest_in_raw():
    commission = Commission.from_json(COMMISSION)

    assert (commission.id, commission.status, commission.amount_cents, commission.link_id) == ("7", "pending", 800, "9")
    assert commission.lead_id is None
    assert commission.raw["a_field_added_later"] == 1
    assert "raw" not in repr(commission)


def test_an_order_answer_exposes_its_commission_or_its_attribution_error():
    brief = {
        "id": "7",
        "status": "pending",
        "amount_cents": 800,
        "currency": "EUR",
        "affiliate_id": "5",
        "suspicious": True,
    }

    attributed = OrderResult.from_json({**ORDER, "commission": brief, "attribution_error": None})
    refused = OrderResult.from_json({**ORDER, "commission": None, "attribution_error": "expired"})
    plain = OrderResult.from_json(ORDER)

    assert attributed.commission == CommissionBrief.from_json(brief)
    assert (attributed.commission.suspicious, attributed.attribution_error) == (True, None)
    assert (refused.commission, refused.attribution_error) == (None, "expired")
    assert (plain.commission, plain.attribution_error) == (None, None)


def test_a_lead_replay_is_marked_and_a_report_renames_from_and_to():
    lead = Lead.from_answer({"lead_id": "L-1", "commission": None, "attribution_error": "self_referral"}, replayed=True)
    report = Report.from_json({"from": "2026-01-01", "to": "2026-01-07", "group_by": "day", "rows": [], "totals": []})

    assert (lead.lead_id, lead.commission, lead.attribution_error, lead.replayed) == (
        "L-1",
        None,
        "self_referral",
        True,
    )
    assert (report.from_date, report.to_date, report.rows) == ("2026-01-01", "2026-01-07", [])


def test_query_booleans_are_sent_the_way_the_platform_parses_them():
    assert [_query_value(v) for v in (True, False, 3, "x")] == ["true", "false", "3", "x"]
