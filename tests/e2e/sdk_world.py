"""Builders for the SDK's end-to-end tests: merchants and affiliates onboarded over plain HTTP, clicks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

from partner_sdk import AffiliateClient, MerchantClient
from tests.factories.merchants import merchant_body
from tests.factories.names import unique, unique_email

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
SHOP_DOMAIN = "shop.example"


def operator_post(live_server: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the operator does with its key: onboarding is not part of the SDK."""
    request = urllib.request.Request(
        live_server.url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {live_server.admin_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def new_merchant_client(live_server: Any, *, domains: list[str] | None = None) -> MerchantClient:
    created = operator_post(live_server, "/v1/merchants", merchant_body(domains=domains or [SHOP_DOMAIN]))
    return MerchantClient(live_server.url, created["api_key"], max_retries=0)


def new_affiliate_client(live_server: Any) -> AffiliateClient:
    body = {"name": unique("Blog"), "email": unique_email(), "website": "https://blog.example/"}
    created = operator_post(live_server, "/v1/affiliates", body)
    return AffiliateClient(live_server.url, created["api_key"], max_retries=0)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def follow(link_url: str) -> tuple[int, str | None]:
    """GET a tracking link like a browser, without following it: (status, Location)."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(link_url, headers={"User-Agent": BROWSER})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Location")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("Location")


def click(link_url: str) -> str:
    """The click token a visitor brings to the landing page."""
    status, location = follow(link_url)
    assert status == 302 and location is not None
    return parse_qs(urlsplit(location).query)["lp_click"][0]
