"""A merchant never learns who a member is unless that member ordered there: every
merchant-facing read, with the merchant's key, is searched for a stranger's email and
member id (a member who bought only elsewhere, consented to offers, declared an
interest and sits in the merchant's segments and offers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.audience.models import COALITION
from app.identity.auth import MERCHANT
from app.unit_of_work import UnitOfWork
from tests.factories.boutique import reward
from tests.factories.contests import move_window, new_contest
from tests.factories.names import unique, unique_email
from tests.factories.orders import record_order
from tests.integration.test_route_access import OPERATIONS, Tenants, op_id, tenants  # noqa: F401 (fixture)

MERCHANT_READS = [op for op in OPERATIONS if op.method == "GET" and op.access and MERCHANT in op.access]


@pytest.fixture(scope="module")
def stranger(app, tenants: Tenants) -> dict:  # noqa: F811 (the fixture imported above)
    """A member of merchant B only, in every audience feature of merchant A."""
    from app.audience import services as audience
    from app.extensions import db
    from app.offers import services as offers

    client = app.test_client()
    email = unique_email()
    placed = record_order(client, tenants.merchant_b["headers"], member_email=email, amount_cents=20_000)
    assert placed.status_code == 201, placed.get_json()
    member_id = int(placed.get_json()["member_id"])
    slug = unique("privacy").lower().replace("_", "-")
    assert (
        client.post("/v1/interests", json={"slug": slug, "label": "Private"}, headers=tenants.operator).status_code
        == 201
    )
    with app.app_context(), Session(db.engine) as s:
        audience.set_consent(s, member_id, COALITION, True, source="account-page", now=datetime.now(UTC))
        audience.set_interests(s, member_id, [slug], datetime.now(UTC))
        s.commit()
    headers = tenants.merchant_a["headers"]
    segments = [
        client.post("/v1/segments", json={"name": "Prospects", "rules": rules}, headers=headers).get_json()["id"]
        for rules in ({"bought": "elsewhere_not_here"}, {"interests": [slug]}, {})
    ]
    now = datetime.now(UTC)
    offer = client.post(
        "/v1/offers",
        json={
            "segment_id": segments[0],
            "subject": "Come and see us",
            "body": "Hello",
            "reward": {"type": "bonus", "points": 10},
            "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
            "holdout_bp": 0,
        },
        headers=headers,
    ).get_json()
    with app.app_context():
        while True:
            uow = UnitOfWork(Session(db.engine))
            try:
                if not offers.send_due(uow):
                    break
            finally:
                uow.close()
    contest = _drawn_free_entry_contest(app, client, tenants, member_id)
    return {
        "email": email,
        "member_id": str(member_id),
        "segments": segments,
        "offer": offer["id"],
        "contest": contest,
    }


def _drawn_free_entry_contest(app, client, world: Tenants, member_id: int) -> str:
    """A free-entry contest of merchant A that the stranger entered from the boutique, and won."""
    from app import unit_of_work
    from app.contests import services as contests
    from app.contests.models import BOUTIQUE
    from app.extensions import db

    voucher = reward(client, world.merchant_a, kind="voucher", generate_codes=2)
    contest = new_contest(client, world.merchant_a["headers"], voucher["id"])
    with app.app_context():
        with unit_of_work.unit() as uow:
            contests.enter(uow, int(contest["id"]), member_id, source=BOUTIQUE)
            uow.commit(None)
        move_window(db.engine, contest["id"], closed=True)
    drawn = client.post(f"/v1/contests/{contest['id']}/draw", headers=world.merchant_a["headers"])
    assert drawn.status_code == 200 and len(drawn.get_json()["winners"]) == 1, drawn.get_json()
    return contest["id"]


def _member_ids(value, found: set[str]) -> set[str]:
    """Every value under a key that names members, anywhere in a JSON answer."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("member_id", "member_ids", "winners") and inner is not None:
                found.update(str(v) for v in (inner if isinstance(inner, list) else [inner]))
            _member_ids(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _member_ids(inner, found)
    return found


def assert_hidden(response, stranger: dict, what: str) -> None:
    body = response.get_data(as_text=True)
    assert stranger["email"] not in body, what
    if response.mimetype == "application/json":
        assert stranger["member_id"] not in _member_ids(json.loads(body), set()), what


def test_the_stranger_is_counted_in_the_merchants_segments_and_offer(client, tenants, stranger):  # noqa: F811
    headers = tenants.merchant_a["headers"]
    for segment_id in stranger["segments"]:
        segment = client.get(f"/v1/segments/{segment_id}", headers=headers).get_json()
        assert segment["size_others"] >= 1, segment
    report = client.get(f"/v1/offers/{stranger['offer']}/report", headers=headers).get_json()
    assert report["sent"] >= 1, report


@pytest.mark.parametrize("op", MERCHANT_READS, ids=op_id)
def test_no_merchant_read_names_a_member_who_never_ordered_there(client, tenants, stranger, op):  # noqa: F811
    response = client.get(tenants.path(op), headers=tenants.headers(MERCHANT))

    assert response.status_code < 500
    assert_hidden(response, stranger, op_id(op))


def test_nor_do_the_reads_that_name_the_stranger_or_list_audiences(client, tenants, stranger):  # noqa: F811
    headers = tenants.merchant_a["headers"]
    probes = [
        f"/v1/members?email={stranger['email']}",
        f"/v1/offers/{stranger['offer']}",
        *(f"/v1/segments/{s}/members?limit=100" for s in stranger["segments"]),
        "/v1/segments?limit=100",
        "/v1/offers?limit=100",
        "/v1/reports/lifecycle",
        f"/v1/contests/{stranger['contest']}",
        f"/v1/contests/{stranger['contest']}/entries",
        "/v1/contests?limit=100",
    ]
    for path in probes:
        response = client.get(path, headers=headers)
        assert response.status_code < 500, path
        assert_hidden(response, stranger, path)
    preview = client.post(
        "/v1/orders/preview",
        json={"member_email": stranger["email"], "amount_cents": 3000, "currency": "EUR"},
        headers=headers,
    )
    assert preview.status_code == 200
    assert_hidden(preview, stranger, "preview")
    drawn_again = client.post(f"/v1/contests/{stranger['contest']}/draw", headers=headers)
    assert drawn_again.status_code == 200
    assert_hidden(drawn_again, stranger, "draw")
    assert stranger["member_id"] not in drawn_again.get_json()["winners"]
