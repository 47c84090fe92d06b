"""A member in a real headless chromium: sign in by emailed link, search, redeem a
voucher and a physical reward, watch balance, pending points and orders change.
Screenshots of every page at desktop and 375 px width go to test-artifacts/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.factories.merchants import auth, merchant_body
from tests.factories.names import unique, unique_email

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "boutique"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


def _browser_or_skip():
    missing = None
    if not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing and os.environ.get("LOYALTY_REQUIRE_BROWSER"):
        pytest.fail(f"LOYALTY_REQUIRE_BROWSER is set but {missing}")
    if missing:
        pytest.skip(missing)


@contextmanager
def desktop_page() -> Iterator:
    """A page of headless chromium (Debian's, never a downloaded one), closed afterwards."""
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=DESKTOP)
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def shoot(page, name: str) -> None:
    """The current page at phone width, then desktop width (the test carries on at desktop)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-375.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} scrolls sideways at 375 px"
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)


def numbers(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


@pytest.fixture
def shop(live_server):
    """A merchant supplying a voucher and a physical reward, and a member with 300 points."""
    base, admin = live_server.url, auth(live_server.admin_key)
    merchant = requests.post(f"{base}/v1/merchants", json=merchant_body(), headers=admin, timeout=10).json()
    headers = auth(merchant["api_key"])
    tag = unique("e2e").split("-")[1]
    items = {}
    for kind, extra in (("voucher", {"generate_codes": 3}), ("physical", {"stock": 2})):
        picture = "voucher-10.svg" if kind == "voucher" else "lamp.svg"
        extra = {**extra, "image_url": f"{base}/static/boutique/rewards/{picture}"}
        body = {
            "kind": kind,
            "title": f"Browser {kind} {tag}",
            "category": "browser-test",
            "points_price": 100,
            "wholesale_value_cents": 40,
            "description": f"A {kind} reward for the browser test.",
            **extra,
        }
        response = requests.post(f"{base}/v1/catalog/items", json=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text
        items[kind] = response.json()
    email = unique_email()
    order = {"order_id": unique("o"), "amount_cents": 45000, "currency": "EUR", "member_email": email}
    assert requests.post(f"{base}/v1/orders", json=order, headers=headers, timeout=10).status_code == 201
    return {"base": base, "email": email, "items": items, "tag": tag}


def test_a_member_signs_in_searches_and_redeems_in_a_real_browser(shop):
    from playwright.sync_api import expect

    base, email, items = shop["base"], shop["email"], shop["items"]
    with desktop_page() as page:
        page.goto(f"{base}/signin")
        shoot(page, "01-sign-in")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Email me a sign-in link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        shoot(page, "02-link-sent")

        page.goto(f"{base}/dev/outbox")
        shoot(page, "03-outbox")
        page.locator("article.mail", has_text=email).first.locator("a").first.click()
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("You are signed in.")).to_be_visible()
        expect(page.get_by_test_id("available")).to_have_text("300")

        page.get_by_label("Search").fill(shop["tag"])
        page.get_by_role("button", name="Show").click()
        expect(page.locator(".card")).to_have_count(2)
        shoot(page, "04-catalog-search")

        page.get_by_role("link", name=items["voucher"]["title"]).click()
        shoot(page, "05-item-voucher")
        page.get_by_role("link", name="Redeem").click()
        shoot(page, "06-confirm-voucher")
        page.get_by_role("button", name=re.compile("Confirm")).click()
        expect(page.get_by_role("heading", name="My orders")).to_be_visible()
        code = page.locator("code.code").first.inner_text()
        assert code in items["voucher"]["generated_codes"]
        expect(page.get_by_test_id("available")).to_have_text("200")
        shoot(page, "07-orders-voucher")

        page.goto(f"{base}/items/{items['physical']['id']}")
        page.get_by_role("link", name="Redeem").click()
        page.get_by_label(re.compile("Delivery address")).fill("Ada Lovelace\n1 Rue de Test\n75001 Paris")
        shoot(page, "08-confirm-physical")
        page.get_by_role("button", name=re.compile("Confirm")).click()
        expect(page.locator(".order").first).to_contain_text("Placed")
        expect(page.get_by_test_id("available")).to_have_text("100")
        expect(page.get_by_test_id("held")).to_have_text("100")
        shoot(page, "09-orders-physical")

        page.get_by_role("link", name="My points").click()
        assert numbers(page.get_by_test_id("points-balance").inner_text()) == 200
        assert numbers(page.get_by_test_id("points-held").inner_text()) == 100
        expect(page.get_by_text(f"Reward: {items['voucher']['title']}")).to_be_visible()
        shoot(page, "10-points")

        page.get_by_role("link", name="My account").click()
        shoot(page, "11-account")
