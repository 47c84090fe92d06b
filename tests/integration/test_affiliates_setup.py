"""Affiliates, their keys, programs, applications and links over the API."""

from __future__ import annotations

import pytest

from tests.factories.affiliates import World, build_world, new_affiliate, new_link, new_program
from tests.factories.merchants import auth
from tests.integration.test_auth_and_errors import assert_problem

AFFILIATE_ROUTES = [
    ("post", "/v1/links"),
    ("get", "/v1/links"),
    ("get", "/v1/links/1"),
    ("patch", "/v1/links/1"),
    ("get", "/v1/affiliate/applications"),
    ("get", "/v1/affiliate/report"),
    ("post", "/v1/programs/1/applications"),
]
MERCHANT_ROUTES = [
    ("post", "/v1/programs"),
    ("get", "/v1/programs"),
    ("get", "/v1/programs/1"),
    ("patch", "/v1/programs/1"),
    ("get", "/v1/programs/1/applications"),
    ("patch", "/v1/programs/1/applications/1"),
    ("get", "/v1/commissions"),
    ("get", "/v1/commissions/1"),
    ("post", "/v1/commissions/1/approve"),
    ("post", "/v1/commissions/1/reject"),
    ("post", "/v1/commissions/bulk"),
    ("get", "/v1/attribution-errors"),
    ("post", "/v1/leads"),
]
OPERATOR_ROUTES = [
    ("post", "/v1/affiliates"),
    ("get", "/v1/affiliates"),
    ("get", "/v1/affiliates/1"),
    ("patch", "/v1/affiliates/1"),
    ("get", "/v1/affiliates/1/api-keys"),
    ("post", "/v1/affiliates/1/api-keys"),
    ("post", "/v1/affiliates/1/api-keys/1/rotate"),
    ("delete", "/v1/affiliates/1/api-keys/1"),
]


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    """A merchant on shop.example, an affiliate approved for its 8% program, and a link."""
    return build_world(client, admin_headers, new_merchant)


@pytest.mark.parametrize(("method", "path"), AFFILIATE_ROUTES + MERCHANT_ROUTES + OPERATOR_ROUTES)
def test_every_affiliate_network_route_refuses_an_unknown_key(client, method, path):
    assert_problem(getattr(client, method)(path, headers=auth("lk_nope"), json={}), 401)


@pytest.mark.parametrize(("method", "path"), AFFILIATE_ROUTES + OPERATOR_ROUTES)
def test_a_merchant_key_is_not_an_affiliate_or_operator_key(client, merchant, method, path):
    assert_problem(getattr(client, method)(path, headers=merchant["headers"], json={}), 401)


@pytest.mark.parametrize(("method", "path"), MERCHANT_ROUTES + OPERATOR_ROUTES)
def test_an_affiliate_key_is_not_a_merchant_or_operator_key(client, admin_headers, method, path):
    affiliate = new_affiliate(client, admin_headers)
    assert_problem(getattr(client, method)(path, headers=affiliate["headers"], json={}), 401)


def test_an_affiliate_is_created_with_a_key_shown_once_and_stored_as_a_hash(client, admin_headers, session):
    from app.affiliates.models import AffiliateKey

    affiliate = new_affiliate(client, admin_headers)

    stored = session.query(AffiliateKey.key_hash).filter_by(affiliate_id=int(affiliate["id"])).scalar()
    session.rollback()
    assert affiliate["api_key"] not in stored
    shown = client.get(f"/v1/affiliates/{affiliate['id']}", headers=admin_headers).get_json()
    assert "api_key" not in shown and shown["email"] == affiliate["email"]
    assert client.get("/v1/affiliate/applications", headers=affiliate["headers"]).status_code == 200


def test_rotating_an_affiliate_key_stops_the_old_one_at_once(client, admin_headers):
    affiliate = new_affiliate(client, admin_headers)

    rotated = client.post(
        f"/v1/affiliates/{affiliate['id']}/api-keys/{affiliate['api_key_id']}/rotate", headers=admin_headers
    )

    assert rotated.status_code == 201
    assert_problem(client.get("/v1/links", headers=affiliate["headers"]), 401)
    assert client.get("/v1/links", headers=auth(rotated.get_json()["api_key"])).status_code == 200
    keys = client.get(f"/v1/affiliates/{affiliate['id']}/api-keys", headers=admin_headers).get_json()["data"]
    assert len(keys) == 2 and sum(k["revoked_at"] is None for k in keys) == 1


def test_a_deactivated_affiliate_is_refused(client, admin_headers):
    affiliate = new_affiliate(client, admin_headers)

    client.patch(f"/v1/affiliates/{affiliate['id']}", json={"active": False}, headers=admin_headers)

    assert_problem(client.get("/v1/links", headers=affiliate["headers"]), 401)


def test_a_program_keeps_its_terms_and_defaults(client, merchant):
    program = new_program(
        client,
        merchant["headers"],
        commission={"type": "fixed", "amount_cents": 500},
        lead_amount_cents=200,
        cap_cents=400,
    )

    assert program["commission"] == {"type": "fixed", "amount_cents": 500}
    assert (program["attribution_window_days"], program["hold_days"]) == (30, 30)
    assert (program["lead_amount_cents"], program["cap_cents"], program["active"]) == (200, 400, True)


@pytest.mark.parametrize(
    ("commission", "field"),
    [
        ({"type": "percent"}, "basis_points"),
        ({"type": "percent", "basis_points": 800, "amount_cents": 5}, "amount_cents"),
        ({"type": "fixed", "basis_points": 800}, "amount_cents"),
        ({"type": "percent", "basis_points": 10_001}, "basis_points"),
        ({"type": "bonus", "amount_cents": 5}, "type"),
    ],
)
def test_a_program_with_a_bad_commission_rule_is_refused(client, merchant, commission, field):
    response = client.post("/v1/programs", json={"name": "P", "commission": commission}, headers=merchant["headers"])

    body = assert_problem(response, 422)
    assert field in body["errors"]["commission"]


def test_an_application_waits_for_the_merchant_unless_the_program_auto_approves(client, admin_headers, merchant):
    manual = new_program(client, merchant["headers"], auto_approve_affiliates=False)
    auto = new_program(client, merchant["headers"], auto_approve_affiliates=True)
    affiliate = new_affiliate(client, admin_headers)

    waiting = client.post(f"/v1/programs/{manual['id']}/applications", headers=affiliate["headers"]).get_json()
    at_once = client.post(f"/v1/programs/{auto['id']}/applications", headers=affiliate["headers"]).get_json()

    assert (waiting["status"], at_once["status"]) == ("pending", "approved")
    refused_link = client.post(
        "/v1/links",
        json={"program_id": manual["id"], "landing_url": "https://shop.example/"},
        headers=affiliate["headers"],
    )
    assert_problem(refused_link, 403)
    decided = client.patch(
        f"/v1/programs/{manual['id']}/applications/{waiting['id']}",
        json={"status": "approved"},
        headers=merchant["headers"],
    )
    assert decided.get_json()["status"] == "approved"
    link = new_link(client, affiliate["headers"], manual["id"])
    assert link["url"] == f"http://localhost/c/{link['code']}"
    again = client.post(f"/v1/programs/{manual['id']}/applications", headers=affiliate["headers"])
    assert_problem(again, 409)


def test_a_merchant_never_sees_another_merchants_programs_or_affiliates(client, admin_headers, new_merchant):
    first, second = new_merchant(), new_merchant()
    program = new_program(client, first["headers"])
    affiliate = new_affiliate(client, admin_headers)
    application = client.post(f"/v1/programs/{program['id']}/applications", headers=affiliate["headers"]).get_json()

    assert_problem(client.get(f"/v1/programs/{program['id']}", headers=second["headers"]), 404)
    assert_problem(client.get(f"/v1/programs/{program['id']}/applications", headers=second["headers"]), 404)
    assert_problem(
        client.patch(
            f"/v1/programs/{program['id']}/applications/{application['id']}",
            json={"status": "refused"},
            headers=second["headers"],
        ),
        404,
    )
    assert client.get("/v1/programs", headers=second["headers"]).get_json()["data"] == []
    listed = client.get(
        f"/v1/programs/{program['id']}/applications", headers=first["headers"], query_string={"status": "approved"}
    ).get_json()["data"]
    assert [a["affiliate_id"] for a in listed] == [affiliate["id"]]


def test_an_affiliate_never_sees_another_affiliates_links(client, admin_headers, world):
    other = new_affiliate(client, admin_headers)

    assert_problem(client.get(f"/v1/links/{world.link['id']}", headers=other["headers"]), 404)
    assert_problem(client.patch(f"/v1/links/{world.link['id']}", json={"active": False}, headers=other["headers"]), 404)
    assert client.get("/v1/links", headers=other["headers"]).get_json()["data"] == []


@pytest.mark.parametrize(
    "landing_url",
    [
        "http://shop.example/",
        "https://evil.example/",
        "https://shop.example.evil.io/",
        "https://evilshop.example/",
        "javascript:alert(1)//https://shop.example/",
        "//evil.io/https://shop.example",
        "https://shop.example@evil.io/",
        "https://user:pw@shop.example/",
        "https:\\\\evil.io\\shop.example",
        "https://shop.example\\@evil.io/",
        "https://shop.example/\r\nLocation: https://evil.io",
        "https://shop.example:8443/",
        "https://shоp.example/",  # Cyrillic o
        "https://shop。example/",  # ideographic full stop
        "https://shop%2eexample/",
        "https:shop.example",
    ],
)
def test_a_link_to_anything_but_the_merchants_https_domains_is_refused(client, world, landing_url):
    response = client.post(
        "/v1/links",
        json={"program_id": world.program["id"], "landing_url": landing_url},
        headers=world.affiliate["headers"],
    )

    body = assert_problem(response, 422)
    assert "landing_url" in body["errors"]


def test_a_link_may_land_on_a_subdomain_and_is_refused_for_a_paused_program(client, world):
    assert new_link(client, world.affiliate["headers"], world.program["id"], "https://blog.shop.example/x")

    client.patch(f"/v1/programs/{world.program['id']}", json={"active": False}, headers=world.merchant["headers"])

    response = client.post(
        "/v1/links",
        json={"program_id": world.program["id"], "landing_url": "https://shop.example/"},
        headers=world.affiliate["headers"],
    )
    assert_problem(response, 422)
