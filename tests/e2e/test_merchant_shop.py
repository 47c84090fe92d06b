"""The example shop and the platform, both on loopback: click capture, checkout with
points, refund, and a signed webhook received and verified by the shop.

The platform gets its own database: the delivery job sends every due event,
and the shared database holds endpoints nobody listens on.
"""

from __future__ import annotations

import importlib.util
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import ledger
from app.extensions import db
from app.webhooks.delivery import deliver_due
from ledger.types import utcnow
from partner_sdk import MerchantClient, sign_webhook
from tests.conftest import ADMIN_KEY, auth, make_app, merchant_body, serve, unique_email

ROOT = Path(__file__).resolve().parents[2]


def load_shop_module():
    spec = importlib.util.spec_from_file_location("merchant_shop", ROOT / "examples" / "merchant_shop" / "shop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client that shows redirects instead of following them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects)

    def open(self, path: str, form: dict | None = None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            response = self.opener.open(self.base_url + path, data=data, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            return response.status, dict(response.headers.items()), response.read().decode()

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


@pytest.fixture(scope="module")
def platform(databases):
    application = make_app(databases.new())
    with serve(application) as url:
        yield application, url
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(platform):
    application, platform_url = platform
    created = application.test_client().post("/v1/merchants", json=merchant_body(), headers=auth(ADMIN_KEY)).get_json()
    module = load_shop_module()
    shop_app = module.create_app(
        {"LOYALTY_PLATFORM_URL": platform_url, "LOYALTY_MERCHANT_KEY": created["api_key"], "SHOP_COOKIE_SECURE": "0"}
    )
    with serve(shop_app) as shop_url:
        client = MerchantClient(platform_url, created["api_key"])
        endpoint = client.create_webhook_endpoint(shop_url + "/webhooks/loyalty", ["order.points_awarded", "order.refunded"])
        shop_app.config["WEBHOOK_SECRET"] = endpoint.secret
        yield shop_app, shop_url, endpoint


def deliver_all(application) -> int:
    total = 0
    with application.app_context(), Session(db.engine) as s:
        while made := deliver_due(s, now=utcnow()):
            total += made
    return total


def test_landing_checkout_refund_and_verified_webhooks(platform, shop):
    application, platform_url = platform
    shop_app, shop_url, endpoint = shop
    visitor = Browser(shop_url)

    status, headers, _ = visitor.open("/products/lamp?lp_click=x&ref=news")
    assert status == 302
    assert headers["Location"] == "/products/lamp?ref=news"
    assert visitor.cookie("lp_click") == "x"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]

    # Phase 1: the platform does not take click tokens yet, so this customer checks out
    # in a fresh browser; the shop forwarding the cookie is checked in the next test.
    customer = Browser(shop_url)
    status, _, form = customer.open("/checkout?amount_cents=27400")
    order_id = re.search(r"name='order_id' value='([^']+)'", form).group(1)
    email = unique_email()
    status, headers, _ = customer.open("/checkout", {"email": email, "amount_cents": "27400", "order_id": order_id})
    assert status == 302
    status, _, order_html = customer.open(headers["Location"])
    assert status == 200
    assert "<strong id='points'>180</strong>" in order_html

    refund_id = re.search(r"name='refund_id' value='([^']+)'", order_html).group(1)
    status, headers, _ = customer.open(f"/orders/{order_id}/refund", {"refund_id": refund_id, "amount_cents": "27400"})
    assert status == 302
    _, _, refunded_html = customer.open(headers["Location"])
    assert "<strong id='points'>0</strong>" in refunded_html
    assert "Refund the order" not in refunded_html

    assert deliver_all(application) == 2
    received = shop_app.extensions["received_events"]
    assert [e["type"] for e in received] == ["order.points_awarded", "order.refunded"]
    assert received[0]["data"]["order_id"] == order_id and received[0]["data"]["points_earned"] == 180
    _, _, events_html = customer.open("/events")
    assert events_html.count("class='type'") == 2
    attempts = MerchantClient(platform_url, shop_app.config["MERCHANT_KEY"]).list_webhook_attempts(endpoint.endpoint.id)
    assert [(a.outcome, a.status_code) for a in attempts.data] == [("delivered", 204), ("delivered", 204)]
    with application.app_context(), Session(db.engine) as s:
        assert ledger.verify(s).violations == []


def test_the_shop_refuses_a_webhook_with_a_bad_signature(shop):
    shop_app, shop_url, _ = shop
    body = json.dumps({"id": "evt_forged", "type": "order.refunded", "data": {}}).encode()

    for header in (sign_webhook(body, "whsec_wrong"), "t=1,v1=" + "0" * 64, ""):
        request = urllib.request.Request(
            shop_url + "/webhooks/loyalty", data=body, headers={"Loyalty-Signature": header}, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        refused.value.close()
        assert refused.value.code == 400

    assert shop_app.extensions["received_events"] == []


def test_checkout_forwards_the_click_token_from_the_cookie(monkeypatch):
    module = load_shop_module()
    shop_app = module.create_app({"LOYALTY_PLATFORM_URL": "http://127.0.0.1:9", "SHOP_COOKIE_SECURE": "0"})
    sent = []

    class Recorded:
        order_id = "o-1"

    def record_order(*args, **kwargs):
        sent.append(kwargs.get("click_token"))
        return Recorded()

    monkeypatch.setattr(shop_app.extensions["loyalty"], "record_order", record_order)
    browser = shop_app.test_client()

    browser.get("/?lp_click=tok.123")
    browser.post("/checkout", data={"email": "a@example.test", "amount_cents": "1500", "order_id": "o-1"})
    shop_app.test_client().post("/checkout", data={"email": "a@example.test", "amount_cents": "1500", "order_id": "o-2"})

    assert sent == ["tok.123", None]
