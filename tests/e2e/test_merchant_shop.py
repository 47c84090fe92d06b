"""The example shop and the platform, both on loopback: tracking link, click capture,
checkout with points and a pending commission, refund, and signed webhooks received
and verified by the shop.

The platform gets its own database: the delivery job sends every due event,
and the shared database holds endpoints nobody listens on.

How the tracking link reaches a shop on loopback: a link's landing URL must be https
on one of the merchant's registered domains (no open redirects), so the merchant
registers `shop.example` and the affiliate links to `https://shop.example/...`. The
test follows `/c/<code>` on the platform without redirects, reads `Location`, checks
it points at `https://shop.example`, and replays its path and query (with `lp_click`)
against the loopback shop, as a browser would on the real domain.
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
from app.unit_of_work import UnitOfWork
from app.webhooks.delivery import deliver_due
from partner_sdk import AffiliateClient, MerchantClient, sign_webhook
from tests.conftest import ADMIN_KEY, make_app, serve
from tests.factories.merchants import merchant_body
from tests.factories.names import unique, unique_email

BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
SHOP_DOMAIN = "shop.example"

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
        # Bots and link-preview fetchers do not count as clicks; this is a person's browser.
        self.opener.addheaders = [("User-Agent", BROWSER_AGENT)]

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


def operator_post(platform_url: str, path: str, body: dict) -> dict:
    """The operator's onboarding over plain HTTP (not part of the SDK)."""
    request = urllib.request.Request(
        platform_url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


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
    created = operator_post(platform_url, "/v1/merchants", merchant_body(domains=[SHOP_DOMAIN]))
    module = load_shop_module()
    shop_app = module.create_app(
        {"LOYALTY_PLATFORM_URL": platform_url, "LOYALTY_MERCHANT_KEY": created["api_key"], "SHOP_COOKIE_SECURE": "0"}
    )
    with serve(shop_app) as shop_url:
        client = MerchantClient(platform_url, created["api_key"])
        endpoint = client.create_webhook_endpoint(
            shop_url + "/webhooks/loyalty", ["order.points_awarded", "order.refunded"]
        )
        shop_app.config["WEBHOOK_SECRET"] = endpoint.secret
        yield shop_app, shop_url, endpoint


def deliver_all(application) -> int:
    total = 0
    with application.app_context(), UnitOfWork(Session(db.engine)) as uow:
        while made := deliver_due(uow, allow_insecure=True):
            total += made
            uow.tick()
    return total


@pytest.fixture
def tracking_link(platform, shop) -> tuple[MerchantClient, AffiliateClient, str]:
    """The merchant opens a program; an affiliate applies and links to the shop's lamp page."""
    _, platform_url = platform
    shop_app, _, _ = shop
    merchant = MerchantClient(platform_url, shop_app.config["MERCHANT_KEY"])
    created = operator_post(
        platform_url,
        "/v1/affiliates",
        {"name": unique("Blog"), "email": unique_email(), "website": "https://blog.example/"},
    )
    affiliate = AffiliateClient(platform_url, created["api_key"])
    program = merchant.create_program("Lamps", {"type": "percent", "basis_points": 1000}, auto_approve_affiliates=True)
    assert affiliate.apply_to_program(program.id).status == "approved"
    link = affiliate.create_link(program.id, f"https://{SHOP_DOMAIN}/products/lamp?ref=news")
    return merchant, affiliate, link.url


def land_from(visitor: Browser, link_url: str) -> str:
    """Click the tracking link, then open its landing URL on the loopback shop (see the module docstring)."""
    clicker = urllib.request.build_opener(NoRedirects)
    clicker.addheaders = [("User-Agent", BROWSER_AGENT)]
    try:
        clicker.open(link_url, timeout=10)
    except urllib.error.HTTPError as redirect:
        with redirect:
            assert redirect.code == 302
            location = urllib.parse.urlsplit(redirect.headers["Location"])
    assert (location.scheme, location.netloc) == ("https", SHOP_DOMAIN)
    token = urllib.parse.parse_qs(location.query)["lp_click"][0]
    status, headers, _ = visitor.open(f"{location.path}?{location.query}")
    assert status == 302
    assert headers["Location"] == "/products/lamp?ref=news"  # the shop's clean URL, without lp_click
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Lax" in headers["Set-Cookie"]
    return token


def test_tracking_link_landing_checkout_commission_refund_and_verified_webhooks(platform, shop, tracking_link):
    application, platform_url = platform
    shop_app, shop_url, endpoint = shop
    merchant, _, link_url = tracking_link
    visitor = Browser(shop_url)

    token = land_from(visitor, link_url)
    assert visitor.cookie("lp_click") == token

    status, _, form = visitor.open("/checkout?amount_cents=27400")
    order_id = re.search(r"name='order_id' value='([^']+)'", form).group(1)
    email = unique_email()
    status, headers, _ = visitor.open("/checkout", {"email": email, "amount_cents": "27400", "order_id": order_id})
    assert status == 302
    status, _, order_html = visitor.open(headers["Location"])
    assert status == 200
    assert "<strong id='points'>180</strong>" in order_html
    assert "<strong id='commission'>pending</strong>" in order_html

    answer = shop_app.extensions["recorded_orders"][order_id]
    assert (answer.points_earned, answer.attribution_error) == (180, None)
    assert answer.commission is not None
    assert (answer.commission.status, answer.commission.amount_cents) == ("pending", 2740)
    [listed] = list(merchant.iter_commissions())
    assert (listed.id, listed.order_id, listed.status, listed.amount_cents) == (
        answer.commission.id,
        order_id,
        "pending",
        2740,
    )
    assert merchant.find_member(email).points_balance == 180

    assert deliver_all(application) == 1
    received = shop_app.extensions["received_events"]
    assert [e["type"] for e in received] == ["order.points_awarded"]
    assert received[0]["data"]["order_id"] == order_id and received[0]["data"]["points_earned"] == 180
    assert received[0]["data"]["commission"]["id"] == answer.commission.id

    refund_id = re.search(r"name='refund_id' value='([^']+)'", order_html).group(1)
    status, headers, _ = visitor.open(f"/orders/{order_id}/refund", {"refund_id": refund_id, "amount_cents": "27400"})
    assert status == 302
    _, _, refunded_html = visitor.open(headers["Location"])
    assert "<strong id='points'>0</strong>" in refunded_html
    assert "Refund the order" not in refunded_html

    assert deliver_all(application) == 1
    assert [e["type"] for e in received] == ["order.points_awarded", "order.refunded"]
    _, _, events_html = visitor.open("/events")
    assert events_html.count("class='type'") == 2
    attempts = merchant.list_webhook_attempts(endpoint.endpoint.id)
    assert [(a.outcome, a.status_code) for a in attempts.data] == [("delivered", 204), ("delivered", 204)]
    with application.app_context(), Session(db.engine) as s:
        assert ledger.verify(s).violations == []


def test_a_checkout_without_the_cookie_records_points_and_no_commission(platform, shop, tracking_link):
    shop_app, shop_url, _ = shop
    merchant, _, link_url = tracking_link
    land_from(Browser(shop_url), link_url)  # someone clicked, but this customer uses another browser
    customer = Browser(shop_url)

    _, _, form = customer.open("/checkout?amount_cents=4599")
    order_id = re.search(r"name='order_id' value='([^']+)'", form).group(1)
    status, _, _ = customer.open("/checkout", {"email": unique_email(), "amount_cents": "4599", "order_id": order_id})

    assert status == 302
    answer = shop_app.extensions["recorded_orders"][order_id]
    assert (answer.points_earned, answer.commission, answer.attribution_error) == (30, None, None)
    assert list(merchant.iter_commissions()) == []


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
