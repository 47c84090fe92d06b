"""Create calls honour an optional Idempotency-Key: a retry gets the first answer,
the key reused for another request is refused, and nothing is created twice."""

from __future__ import annotations

import pytest

from tests.factories.affiliates import build_world, new_program
from tests.factories.boutique import reward
from tests.factories.merchants import merchant_body
from tests.factories.names import unique


def _program_body():
    return {"name": unique("Program"), "commission": {"type": "fixed", "amount_cents": 300}}


def _item_body():
    return {
        "kind": "physical",
        "title": unique("Lamp"),
        "description": "A lamp.",
        "category": "home",
        "points_price": 100,
        "wholesale_value_cents": 300,
        "stock": 2,
    }


@pytest.fixture
def world(client, admin_headers, new_merchant):
    return build_world(client, admin_headers, new_merchant)


def cases(world, client, admin_headers):
    """(path, headers, body, list path, list headers) for each create call."""
    voucher = reward(client, world.merchant, kind="voucher", voucher_codes=[unique("V").upper()])
    merchant_headers, affiliate_headers = world.merchant["headers"], world.affiliate["headers"]
    link_body = {"program_id": world.program["id"], "landing_url": "https://shop.example/idem"}
    return {
        "program": ("/v1/programs", merchant_headers, _program_body, "/v1/programs", merchant_headers),
        "link": (
            "/v1/links",
            affiliate_headers,
            lambda: link_body | {"landing_url": f"https://shop.example/{unique('p')}"},
            "/v1/links",
            affiliate_headers,
        ),
        "catalog item": ("/v1/catalog/items", merchant_headers, _item_body, "/v1/catalog/items", merchant_headers),
        "voucher codes": (
            f"/v1/catalog/items/{voucher['id']}/codes",
            merchant_headers,
            lambda: {"generate_codes": 2},
            None,
            None,
        ),
        "merchant": ("/v1/merchants", admin_headers, merchant_body, "/v1/merchants", admin_headers),
        "merchant key": (
            f"/v1/merchants/{world.merchant['id']}/api-keys",
            admin_headers,
            lambda: None,
            f"/v1/merchants/{world.merchant['id']}/api-keys",
            admin_headers,
        ),
    }


def count(client, path, headers) -> int:
    total, cursor = 0, None
    while True:
        page = client.get(
            path, query_string={"limit": 200, **({"cursor": cursor} if cursor else {})}, headers=headers
        ).get_json()
        total += len(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


CASES = ["program", "link", "catalog item", "voucher codes", "merchant", "merchant key"]


@pytest.mark.parametrize("case", CASES)
def test_a_retried_create_gets_the_first_answer_and_creates_once(client, admin_headers, world, case):
    path, headers, body_of, list_path, list_headers = cases(world, client, admin_headers)[case]
    body = body_of()
    keyed = {**headers, "Idempotency-Key": unique("idem")}
    before = count(client, list_path, list_headers) if list_path else None

    first = client.post(path, json=body, headers=keyed)
    retry = client.post(path, json=body, headers=keyed)

    assert first.status_code == 201, first.get_json()
    assert (retry.status_code, retry.get_json()) == (200, first.get_json())
    if list_path:
        assert count(client, list_path, list_headers) == before + 1


@pytest.mark.parametrize("case", ["program", "catalog item", "merchant"])
def test_a_key_reused_for_another_request_is_refused_and_creates_nothing(client, admin_headers, world, case):
    path, headers, body_of, list_path, list_headers = cases(world, client, admin_headers)[case]
    keyed = {**headers, "Idempotency-Key": unique("idem")}
    assert client.post(path, json=body_of(), headers=keyed).status_code == 201
    before = count(client, list_path, list_headers)

    reused = client.post(path, json=body_of(), headers=keyed)

    assert (reused.status_code, reused.mimetype) == (409, "application/problem+json")
    assert count(client, list_path, list_headers) == before


def test_without_a_key_two_creates_make_two(client, world):
    before = count(client, "/v1/programs", world.merchant["headers"])
    body = _program_body()
    assert client.post("/v1/programs", json=body, headers=world.merchant["headers"]).status_code == 201
    assert client.post("/v1/programs", json=body, headers=world.merchant["headers"]).status_code == 201
    assert count(client, "/v1/programs", world.merchant["headers"]) == before + 2


def test_a_refused_create_leaves_its_key_free_for_the_corrected_request(client, world):
    keyed = {**world.merchant["headers"], "Idempotency-Key": unique("idem")}
    bad = client.post("/v1/programs", json={"name": "x"}, headers=keyed)
    assert bad.status_code == 422
    good = client.post("/v1/programs", json=_program_body(), headers=keyed)
    assert good.status_code == 201, good.get_json()


def test_the_same_key_from_two_merchants_is_two_requests(client, admin_headers, new_merchant):
    key = unique("idem")
    first, second = new_merchant(), new_merchant()
    body = _program_body()
    a = client.post("/v1/programs", json=body, headers={**first["headers"], "Idempotency-Key": key})
    b = client.post("/v1/programs", json=body, headers={**second["headers"], "Idempotency-Key": key})
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.get_json()["id"] != b.get_json()["id"]


def test_a_malformed_key_is_refused(client, world):
    bad = client.post(
        "/v1/programs", json=_program_body(), headers={**world.merchant["headers"], "Idempotency-Key": "has space"}
    )
    assert (bad.status_code, bad.mimetype) == (422, "application/problem+json")


def test_an_application_retried_with_its_key_answers_the_same(client, admin_headers, world):
    program = new_program(client, world.merchant["headers"])
    other = world.affiliate["headers"]
    keyed = {**other, "Idempotency-Key": unique("idem")}
    first = client.post(f"/v1/programs/{program['id']}/applications", headers=keyed)
    retry = client.post(f"/v1/programs/{program['id']}/applications", headers=keyed)
    assert first.status_code == 201
    assert (retry.status_code, retry.get_json()) == (200, first.get_json())
