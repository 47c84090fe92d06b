"""Affiliates onboarded by the operator, programs, approved applications, links and their clicks."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from tests.factories.merchants import auth
from tests.factories.names import unique, unique_email

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def new_affiliate(client, admin_headers, **overrides) -> dict:
    body = {"name": unique("Blog"), "email": unique_email(), "website": "https://blog.example/", **overrides}
    response = client.post("/v1/affiliates", json=body, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    affiliate = response.get_json()
    affiliate["headers"] = auth(affiliate["api_key"])
    return affiliate


def new_program(client, merchant_headers, **overrides) -> dict:
    body = {
        "name": unique("Program"),
        "commission": {"type": "percent", "basis_points": 800},
        "network_fee_bps": 1000,
        "auto_approve_affiliates": True,
        **overrides,
    }
    response = client.post("/v1/programs", json=body, headers=merchant_headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_link(client, affiliate_headers, program_id, landing_url="https://shop.example/shoes?color=red#top") -> dict:
    response = client.post(
        "/v1/links", json={"program_id": program_id, "landing_url": landing_url}, headers=affiliate_headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def follow(client, code: str, *, user_agent: str = BROWSER, ip: str = "203.0.113.7", method: str = "get"):
    return getattr(client, method)(f"/c/{code}", headers={"User-Agent": user_agent}, environ_base={"REMOTE_ADDR": ip})


def token_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["lp_click"][0]


@dataclass
class World:
    merchant: dict
    affiliate: dict
    program: dict
    link: dict

    def click(self, client) -> str:
        response = follow(client, self.link["code"])
        assert response.status_code == 302
        return token_of(response.headers["Location"])


def build_world(client, admin_headers, new_merchant, **program) -> World:
    merchant = new_merchant(domains=["shop.example"])
    affiliate = new_affiliate(client, admin_headers)
    created = new_program(client, merchant["headers"], **program)
    applied = client.post(f"/v1/programs/{created['id']}/applications", headers=affiliate["headers"])
    assert applied.status_code == 201, applied.get_json()
    if applied.get_json()["status"] != "approved":
        decided = client.patch(
            f"/v1/programs/{created['id']}/applications/{applied.get_json()['id']}",
            json={"status": "approved"},
            headers=merchant["headers"],
        )
        assert decided.status_code == 200
    return World(merchant, affiliate, created, new_link(client, affiliate["headers"], created["id"]))
