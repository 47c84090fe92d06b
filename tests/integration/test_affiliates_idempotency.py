"""Every mutation of merchants, affiliates, programs, applications, links, keys and
commission decisions honours an optional Idempotency-Key: a retry of the same
(normalized) request answers 200 with the first answer and changes nothing
again; the key reused for another request is 409 problem+json."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.commissions import services as commissions
from app.commissions.errors import BulkRefused, CommissionNotPending
from app.commissions.models import Commission
from app.merchants.models import MerchantTerms
from app.unit_of_work import IdempotencyKeyReused, UnitOfWork
from tests.factories.affiliates import World, build_world
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.integration.test_auth_and_errors import assert_problem
from tests.integration.test_idempotent_creates import count

CONFLICT = "/problems/idempotency-conflict"


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    return build_world(client, admin_headers, new_merchant)


def keyed(headers: dict) -> dict:
    return {**headers, "Idempotency-Key": unique("idem")}


def assert_key_reused(response) -> None:
    assert assert_problem(response, 409)["type"] == CONFLICT


# ----------------------------------------------------------------- updates


def update_cases(world: World, admin_headers: dict, client) -> dict:
    """(path, headers, first body, other body, read the changed field) per update."""
    merchant, affiliate = world.merchant, world.affiliate
    program_path = f"/v1/programs/{world.program['id']}"
    application = client.get(f"{program_path}/applications", headers=merchant["headers"]).get_json()["data"][0]
    first_name, other_name = unique("Shop"), unique("Shop")

    def field_of(path, headers, field):
        return lambda: client.get(path, headers=headers).get_json()[field]

    def application_status():
        page = client.get(f"{program_path}/applications", headers=merchant["headers"]).get_json()
        return next(a["status"] for a in page["data"] if a["id"] == application["id"])

    return {
        "merchant": (
            f"/v1/merchants/{merchant['id']}",
            admin_headers,
            {"name": first_name},
            {"name": other_name},
            field_of(f"/v1/merchants/{merchant['id']}", admin_headers, "name"),
        ),
        "affiliate": (
            f"/v1/affiliates/{affiliate['id']}",
            admin_headers,
            {"active": False},
            {"active": True},
            field_of(f"/v1/affiliates/{affiliate['id']}", admin_headers, "active"),
        ),
        "program": (
            program_path,
            merchant["headers"],
            {"hold_days": 3},
            {"hold_days": 9},
            field_of(program_path, merchant["headers"], "hold_days"),
        ),
        "application": (
            f"{program_path}/applications/{application['id']}",
            merchant["headers"],
            {"status": "refused"},
            {"status": "approved"},
            application_status,
        ),
        "link": (
            f"/v1/links/{world.link['id']}",
            affiliate["headers"],
            {"active": False},
            {"active": True},
            field_of(f"/v1/links/{world.link['id']}", affiliate["headers"], "active"),
        ),
    }


@pytest.mark.parametrize("case", ["merchant", "affiliate", "program", "application", "link"])
def test_a_retried_update_answers_the_first_answer_and_is_not_applied_again(client, admin_headers, world, case):
    path, headers, first_body, other_body, current = update_cases(world, admin_headers, client)[case]
    with_key = keyed(headers)

    first = client.patch(path, json=first_body, headers=with_key)
    assert first.status_code == 200, first.get_json()
    between = client.patch(path, json=other_body, headers=headers)  # someone changes it again, without the key
    assert between.status_code == 200, between.get_json()
    changed = current()
    retry = client.patch(path, json=first_body, headers=with_key)

    assert (retry.status_code, retry.get_json()) == (200, first.get_json())
    assert current() == changed  # the replay did not apply the first body a second time
    assert_key_reused(client.patch(path, json=other_body, headers=with_key))
    assert current() == changed


def test_a_refused_update_leaves_its_key_free(client, admin_headers, world):
    with_key = keyed(admin_headers)
    assert_problem(client.patch("/v1/merchants/999999999", json={"name": "x"}, headers=with_key), 404)

    good = client.patch(f"/v1/merchants/{world.merchant['id']}", json={"name": unique("Shop")}, headers=with_key)

    assert good.status_code == 200, good.get_json()


# ----------------------------------------------------------------- affiliates


def test_an_affiliate_create_retried_with_the_email_in_another_case_replays(client, admin_headers):
    body = {"name": unique("Blog"), "email": f"{unique('aff')}@example.com", "website": "https://blog.example/"}
    with_key = keyed(admin_headers)
    before = count(client, "/v1/affiliates", admin_headers)

    first = client.post("/v1/affiliates", json=body, headers=with_key)
    retry = client.post("/v1/affiliates", json={**body, "email": f"  {body['email'].upper()} "}, headers=with_key)

    assert first.status_code == 201, first.get_json()
    assert (retry.status_code, retry.get_json()) == (200, first.get_json())
    assert count(client, "/v1/affiliates", admin_headers) == before + 1
    assert_key_reused(client.post("/v1/affiliates", json={**body, "name": unique("Blog")}, headers=with_key))
    assert count(client, "/v1/affiliates", admin_headers) == before + 1


# ----------------------------------------------------------------- keys


@pytest.mark.parametrize("owner", ["merchants", "affiliates"])
def test_issuing_rotating_and_revoking_keys_with_a_key_happen_once(client, admin_headers, world, owner):
    owner_id = world.merchant["id"] if owner == "merchants" else world.affiliate["id"]
    keys_path = f"/v1/{owner}/{owner_id}/api-keys"
    live_before = _live_keys(client, keys_path, admin_headers)

    issue_key = keyed(admin_headers)
    issued = client.post(keys_path, headers=issue_key)
    assert issued.status_code == 201, issued.get_json()
    assert (client.post(keys_path, headers=issue_key).get_json(), _live_keys(client, keys_path, admin_headers)) == (
        issued.get_json(),
        live_before + 1,
    )

    rotate_key = keyed(admin_headers)
    rotate_path = f"{keys_path}/{issued.get_json()['id']}/rotate"
    rotated = client.post(rotate_path, headers=rotate_key)
    assert rotated.status_code == 201, rotated.get_json()
    retry = client.post(rotate_path, headers=rotate_key)
    assert (retry.status_code, retry.get_json()) == (200, rotated.get_json())
    assert _live_keys(client, keys_path, admin_headers) == live_before + 1

    revoke_key = keyed(admin_headers)
    revoke_path = f"{keys_path}/{rotated.get_json()['id']}"
    revoked = client.delete(revoke_path, headers=revoke_key)
    assert (revoked.status_code, revoked.data) == (204, b"")
    assert client.delete(revoke_path, headers=revoke_key).status_code == 200
    assert _live_keys(client, keys_path, admin_headers) == live_before
    assert_key_reused(client.delete(f"{keys_path}/{issued.get_json()['id']}", headers=revoke_key))
    assert_problem(client.delete(revoke_path, headers=admin_headers), 404)  # without a key: nothing left to revoke


def _live_keys(client, path, headers) -> int:
    page = client.get(path, query_string={"limit": 200}, headers=headers).get_json()
    return sum(key["revoked_at"] is None for key in page["data"])


# ----------------------------------------------------------------- commission decisions


def _pending(client, world) -> str:
    response = record_order(client, world.merchant["headers"], click_token=world.click(client))
    return response.get_json()["commission"]["id"]


def test_approving_twice_answers_the_same_with_or_without_a_key(client, world):
    commission_id = _pending(client, world)
    path = f"/v1/commissions/{commission_id}/approve"
    with_key = keyed(world.merchant["headers"])

    first = client.post(path, headers=with_key)
    replay = client.post(path, headers=with_key)
    again = client.post(path, headers=world.merchant["headers"])

    assert first.status_code == 200 and first.get_json()["status"] == "approved"
    assert (replay.status_code, replay.get_json()) == (200, first.get_json())
    assert (again.status_code, again.get_json()) == (200, first.get_json())


def test_a_key_used_to_approve_is_refused_for_a_rejection(client, world):
    commission_id = _pending(client, world)
    with_key = keyed(world.merchant["headers"])
    assert client.post(f"/v1/commissions/{commission_id}/approve", headers=with_key).status_code == 200

    other = _pending(client, world)
    reused = client.post(f"/v1/commissions/{other}/reject", json={"reason": "No."}, headers=with_key)

    assert_key_reused(reused)
    status = client.get(f"/v1/commissions/{other}", headers=world.merchant["headers"]).get_json()["status"]
    assert status == "pending"


def test_a_rejection_retried_with_its_key_answers_the_first_answer(client, world):
    commission_id = _pending(client, world)
    path = f"/v1/commissions/{commission_id}/reject"
    with_key = keyed(world.merchant["headers"])

    first = client.post(path, json={"reason": "Returned."}, headers=with_key)
    replay = client.post(path, json={"reason": "Returned."}, headers=with_key)

    assert first.status_code == 200 and first.get_json()["status"] == "rejected"
    assert (replay.status_code, replay.get_json()) == (200, first.get_json())
    assert_key_reused(client.post(path, json={"reason": "Other."}, headers=with_key))


def test_a_bulk_retried_with_its_key_answers_the_first_answer_once(client, world):
    ids = [_pending(client, world), _pending(client, world)]
    body = {"items": [{"id": ids[0], "action": "approve"}, {"id": ids[1], "action": "reject", "reason": "Fraud."}]}
    with_key = keyed(world.merchant["headers"])

    first = client.post("/v1/commissions/bulk", json=body, headers=with_key)
    replay = client.post("/v1/commissions/bulk", json=body, headers=with_key)

    assert first.status_code == 200, first.get_json()
    assert [c["status"] for c in first.get_json()["data"]] == ["approved", "rejected"]
    assert (replay.status_code, replay.get_json()) == (200, first.get_json())
    assert_key_reused(
        client.post("/v1/commissions/bulk", json={"items": [{"id": ids[0], "action": "approve"}]}, headers=with_key)
    )


# ----------------------------------------------------------------- decisions, without HTTP


def _terms(session: Session, merchant_id: str) -> MerchantTerms:
    from app.merchants.models import Merchant

    m = session.get(Merchant, int(merchant_id))
    return MerchantTerms(
        m.id,
        m.name,
        m.currency,
        m.earn_points,
        m.earn_per_amount_cents,
        m.price_per_1000_points_cents,
        m.points_lifetime_days,
    )


def test_the_decision_services_run_in_a_unit_of_work(app, client, engine, world):
    approved_id, rejected_id = int(_pending(client, world)), int(_pending(client, world))
    with app.app_context(), Session(engine) as session:
        uow = UnitOfWork(session)
        merchant = _terms(session, world.merchant["id"])
        key = unique("idem")

        first = commissions.approve(uow, merchant, approved_id, key=key)
        replay = commissions.approve(uow, merchant, approved_id, key=key)
        with pytest.raises(IdempotencyKeyReused):
            commissions.reject(uow, merchant, rejected_id, "No.", key=key)
        with pytest.raises(CommissionNotPending):
            commissions.reject(uow, merchant, approved_id, "No.")
        uow.discard()
        rejected = commissions.reject(uow, merchant, rejected_id, "No.")

        assert first["status"] == "approved" and replay == first and uow.replayed
        assert rejected["status"] == "rejected"
        statuses = dict(
            session.execute(
                select(Commission.id, Commission.status).where(Commission.id.in_([approved_id, rejected_id]))
            ).all()
        )
        assert statuses == {approved_id: "approved", rejected_id: "rejected"}
        entries = session.execute(
            select(func.count())
            .select_from(Commission)
            .where(Commission.id == approved_id, Commission.entry_id.isnot(None))
        ).scalar_one()
        assert entries == 1


def test_a_refused_bulk_in_a_unit_of_work_changes_nothing(app, client, engine, world):
    pending = int(_pending(client, world))
    with app.app_context(), Session(engine) as session:
        uow = UnitOfWork(session)
        merchant = _terms(session, world.merchant["id"])
        items = [{"id": pending, "action": "approve", "reason": None}, {"id": 999_999_999, "action": "approve"}]
        with pytest.raises(BulkRefused) as refused:
            commissions.bulk(uow, merchant, items)
        uow.discard()

        assert refused.value.errors == {"1": ["No commission 999999999 of yours."]}
        assert session.get(Commission, pending).status == "pending"
