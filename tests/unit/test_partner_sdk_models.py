"""The SDK's typed answers are built strictly from the platform's JSON; no network."""

from __future__ import annotations

import pytest

import partner_sdk
from partner_sdk import (
    Commission,
    CommissionBrief,
    CreatedCatalogItem,
    CreatedWebhookEndpoint,
    Lead,
    LoyaltyError,
    OrderResult,
    Page,
    Program,
    Report,
    UnexpectedAnswer,
)
from partner_sdk._client import page_of
from partner_sdk._transport import _query_value, json_object

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
    "payout_id": None,
    "a_field_added_later": 1,
}
BRIEF = {
    "id": "7",
    "status": "pending",
    "amount_cents": 800,
    "currency": "EUR",
    "affiliate_id": "5",
    "suspicious": True,
}
ORDER = {
    "order_id": "o-1",
    "member_id": "2",
    "amount_cents": 10_000,
    "net_amount_cents": 10_000,
    "currency": "EUR",
    "points_earned": 60,
    "points_net": 60,
    "bonuses": [],
    "points_total": 60,
    "points_available_at": None,
    "points_balance": 60,
    "points_available": 60,
    "points_incoming": 0,
    "commission": None,
    "attribution_error": None,
}
PROGRAM = {
    "id": "3",
    "merchant_id": "1",
    "name": "Spring",
    "active": True,
    "commission": {"type": "percent", "basis_points": 800},
    "lead_amount_cents": None,
    "cap_cents": None,
    "network_fee_bps": 200,
    "hold_days": 30,
    "attribution_window_days": 30,
    "auto_approve_affiliates": False,
    "created_at": "2026-01-01T10:00:00+00:00",
}
ENDPOINT = {
    "id": "3",
    "url": "https://hooks.example/x",
    "events": ["order.refunded"],
    "enabled": True,
    "previous_secret_expires_at": None,
    "created_at": "2027-01-01T00:00:00+00:00",
    "updated_at": "2027-01-01T00:00:00+00:00",
    "secret": "whsec_x",
}


def refused(cls, data, **options) -> UnexpectedAnswer:
    with pytest.raises(UnexpectedAnswer) as raised:
        cls.from_json(data, **options)
    return raised.value


def test_a_commission_takes_its_fields_by_name_and_keeps_the_rest_in_raw():
    commission = Commission.from_json(COMMISSION)

    assert (commission.id, commission.status, commission.amount_cents, commission.link_id) == ("7", "pending", 800, "9")
    assert commission.lead_id is None
    assert commission.raw["a_field_added_later"] == 1
    assert "raw" not in repr(commission)


def test_an_order_answer_exposes_its_commission_or_its_attribution_error():
    attributed = OrderResult.from_json({**ORDER, "commission": BRIEF, "attribution_error": None})
    unattributed = OrderResult.from_json({**ORDER, "commission": None, "attribution_error": "expired"})

    assert attributed.commission == CommissionBrief.from_json(BRIEF)
    assert (attributed.commission.suspicious, attributed.attribution_error) == (True, None)
    assert (unattributed.commission, unattributed.attribution_error) == (None, "expired")


@pytest.mark.parametrize("name", [name for name in ORDER])
def test_every_field_the_platform_always_sends_is_required_and_named_when_missing(name):
    data = {key: value for key, value in ORDER.items() if key != name}

    error = refused(OrderResult, data)

    assert error.field == f"OrderResult.{name}"
    assert str(error).endswith(f"OrderResult.{name}: missing")


def test_a_field_that_may_be_null_is_still_required_to_be_sent():
    assert (
        refused(Commission, {k: v for k, v in COMMISSION.items() if k != "payout_id"}).field == "Commission.payout_id"
    )
    assert Commission.from_json({**COMMISSION, "payout_id": "12"}).payout_id == "12"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("points_earned", "60", "expected int, got str '60'"),
        ("points_earned", 60.0, "expected int, got number 60.0"),
        ("points_earned", None, "expected int, got null"),
        ("points_earned", True, "expected int, got bool True"),
        ("order_id", 1, "expected str, got number 1"),
        ("commission", "none", "expected a JSON object, got str 'none'"),
        ("attribution_error", 0, "expected str, got number 0"),
    ],
)
def test_a_field_of_another_type_is_refused_with_its_name_and_what_came(name, value, expected):
    error = refused(OrderResult, {**ORDER, name: value})

    assert error.field == f"OrderResult.{name}"
    assert error.detail == f"OrderResult.{name}: {expected}"


def test_booleans_and_integers_are_not_mistaken_for_each_other():
    assert refused(Program, {**PROGRAM, "active": 1}).detail == "Program.active: expected bool, got number 1"
    assert refused(Program, {**PROGRAM, "hold_days": False}).detail == "Program.hold_days: expected int, got bool False"
    assert Program.from_json({**PROGRAM, "active": False}).active is False


def test_nested_answers_are_built_by_the_same_rules_with_their_path_in_the_error():
    bad_brief = {**ORDER, "commission": {**BRIEF, "suspicious": "yes"}}
    missing_in_row = {"from": "2026-01-01", "to": "2026-01-07", "group_by": "day", "rows": [{"key": "x"}], "totals": []}

    assert refused(OrderResult, bad_brief).field == "OrderResult.commission.suspicious"
    assert refused(Report, missing_in_row).field == "Report.rows[0].currency"
    assert refused(Report, {**missing_in_row, "rows": "x"}).detail == "Report.rows: expected list, got str 'x'"


def test_an_answer_that_is_not_an_object_is_refused():
    assert refused(OrderResult, [ORDER]).detail == "OrderResult: expected a JSON object, got list"


def test_an_unexpected_answer_is_a_loyalty_error_with_the_http_status_and_is_exported():
    error = UnexpectedAnswer("OrderResult.points_earned", "missing", status=201)

    assert isinstance(error, LoyaltyError)
    assert (error.status, error.field, error.title) == (201, "OrderResult.points_earned", "Unexpected answer")
    assert "UnexpectedAnswer" in partner_sdk.__all__


def test_replayed_is_set_by_the_caller_not_read_from_the_json_and_not_compared():
    created = Program.from_json(PROGRAM)
    replay = Program.from_json({**PROGRAM, "replayed": "ignored"}, replayed=True)

    assert (created.replayed, replay.replayed) == (False, True)
    assert created == replay
    with pytest.raises(TypeError):
        Commission.from_json(COMMISSION, replayed=True)


def test_a_create_answer_holds_its_nested_answer_and_what_is_shown_only_once():
    created = CreatedWebhookEndpoint.from_json(ENDPOINT, replayed=True)
    item = {
        "id": "4",
        "kind": "voucher",
        "title": "T",
        "description": "",
        "category": "c",
        "image_url": None,
        "points_price": 100,
        "wholesale_value_cents": 500,
        "currency": "EUR",
        "stock": 2,
        "active": True,
        "active_from": None,
        "active_until": None,
        "created_at": "2027-01-01T00:00:00+00:00",
        "updated_at": "2027-01-01T00:00:00+00:00",
    }

    assert (created.endpoint.id, created.secret, created.replayed) == ("3", "whsec_x", True)
    assert "whsec_x" not in repr(created)
    assert refused(CreatedWebhookEndpoint, {**ENDPOINT, "enabled": "true"}).field == "CreatedWebhookEndpoint.enabled"
    assert CreatedCatalogItem.from_json({**item, "generated_codes": ["A", "B"]}).generated_codes == ["A", "B"]
    assert refused(CreatedCatalogItem, item).field == "CreatedCatalogItem.generated_codes"


def test_a_lead_replay_is_marked_and_a_report_renames_from_and_to():
    lead = Lead.from_json({"lead_id": "L-1", "commission": None, "attribution_error": "self_referral"}, replayed=True)
    no_log = {"tree_head": None, "leaf_indexes": []}
    report = Report.from_json(
        {"from": "2026-01-01", "to": "2026-01-07", "group_by": "day", "rows": [], "totals": [], "log": no_log}
    )

    assert (lead.lead_id, lead.commission, lead.attribution_error, lead.replayed) == (
        "L-1",
        None,
        "self_referral",
        True,
    )
    assert (report.from_date, report.to_date, report.rows) == ("2026-01-01", "2026-01-07", [])
    assert refused(Report, {"to": "2026-01-07", "group_by": "day", "rows": [], "totals": []}).field == "Report.from"


def test_a_page_requires_its_data_and_cursor_and_builds_every_item():
    page = page_of(Program, {"data": [PROGRAM], "next_cursor": "c2"}, 200)

    assert page == Page([Program.from_json(PROGRAM)], "c2")
    with pytest.raises(UnexpectedAnswer, match=r"Page\[Program\]\.next_cursor: missing"):
        page_of(Program, {"data": []}, 200)
    with pytest.raises(UnexpectedAnswer, match=r"Page\[Program\]\.data\[0\]\.active: expected bool"):
        page_of(Program, {"data": [{**PROGRAM, "active": None}], "next_cursor": None}, 200)


def test_an_answer_that_is_not_a_json_object_is_an_unexpected_answer():
    with pytest.raises(UnexpectedAnswer) as raised:
        json_object(200, b"<html>")

    assert raised.value.status == 200


def test_query_booleans_are_sent_the_way_the_platform_parses_them():
    assert [_query_value(v) for v in (True, False, 3, "x")] == ["true", "false", "3", "x"]


STATEMENT_LINE = {
    "currency": "EUR",
    "points_bought_cents": 50,
    "commissions_cents": 0,
    "network_fees_cents": 0,
    "rewards_supplied_cents": 0,
    "other_cents": 0,
    "net_cents": 50,
    "entry_ids": ["3", "9"],
}
STATEMENT = {
    "id": "4",
    "merchant_id": "2",
    "period_start": "2026-11-01T00:00:00+00:00",
    "period_end": "2026-11-20T10:00:00+00:00",
    "lines": [STATEMENT_LINE],
    "created_at": "2026-11-20T10:05:00+00:00",
    "log": {"tree_head": None, "leaf_indexes": []},
    "collection": {"status": "pending", "stripe_payment_intent_id": None, "amount_cents": 50},
    "payout": None,
    "final": True,
    "liability": {"points_outstanding": 300, "value_cents": 150, "collected_cents": 100, "coverage_bp": 6_666},
}


def test_a_final_statement_carries_its_liability_and_each_line_its_entries():
    final = partner_sdk.Statement.from_json(STATEMENT)
    monthly = partner_sdk.Statement.from_json({**STATEMENT, "final": False, "liability": None})

    assert final.final is True and final.liability == partner_sdk.Liability.from_json(STATEMENT["liability"])
    assert (final.liability.collected_cents, final.liability.coverage_bp) == (100, 6_666)
    assert final.lines[0].entry_ids == ["3", "9"]
    assert (monthly.final, monthly.liability) == (False, None)
    with pytest.raises(UnexpectedAnswer, match="liability"):
        partner_sdk.Statement.from_json({**STATEMENT, "liability": {"points_outstanding": 1}})


def test_a_statement_the_operator_pays_carries_its_payout():
    owed = {**STATEMENT, "lines": [{**STATEMENT_LINE, "net_cents": -240}]}
    payout = {"payout_id": "12", "status": "paid", "method": "bank_transfer", "amount_cents": 240, "paid_at": None}

    shown = partner_sdk.Statement.from_json({**owed, "payout": payout})

    assert shown.payout == partner_sdk.StatementPayout.from_json(payout)
    assert (shown.payout.payout_id, shown.payout.status, shown.payout.amount_cents) == ("12", "paid", 240)
    assert partner_sdk.Statement.from_json(STATEMENT).payout is None
    with pytest.raises(UnexpectedAnswer, match="payout"):
        partner_sdk.Statement.from_json({**owed, "payout": {"payout_id": "12"}})
