"""A member in a real headless chromium enters a merchant's contest from the boutique,
then, after the draw, reads the result page: that they won, the seed, the hash of the
entry list, and the voucher in their orders. Screenshots at desktop and 375 px width
go to test-artifacts/contests/."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from partner_sdk import verify_draw
from tests.e2e.test_boutique_browser import DESKTOP, PHONE, desktop_page
from tests.factories.contests import contest_body, move_window
from tests.factories.merchants import auth, merchant_body
from tests.factories.names import unique, unique_email

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "contests"


def shoot(page, name: str) -> None:
    """The current page at phone width, then desktop width (the test carries on at desktop)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-375.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} scrolls sideways at 375 px"
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"{name}-desktop.png"), full_page=True)


@pytest.fixture
def contest(live_server, engine):
    """A merchant's free-entry contest of one voucher, open now, and one of its customers."""
    base, admin = live_server.url, auth(live_server.admin_key)
    merchant = requests.post(f"{base}/v1/merchants", json=merchant_body(), headers=admin, timeout=10).json()
    headers = auth(merchant["api_key"])
    item = {
        "kind": "voucher",
        "title": unique("Contest voucher"),
        "category": "browser-test",
        "points_price": 100,
        "wholesale_value_cents": 40,
        "description": "The prize of the browser test's contest.",
        "generate_codes": 2,
    }
    voucher = requests.post(f"{base}/v1/catalog/items", json=item, headers=headers, timeout=10).json()
    email = unique_email()
    order = {"order_id": unique("o"), "amount_cents": 4500, "currency": "EUR", "member_email": email}
    assert requests.post(f"{base}/v1/orders", json=order, headers=headers, timeout=10).status_code == 201
    created = requests.post(
        f"{base}/v1/contests", json=contest_body(voucher["id"], winners=1), headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text
    move_window(engine, created.json()["id"])
    return {"base": base, "headers": headers, "email": email, "voucher": voucher, "contest": created.json()}


def test_a_member_enters_a_contest_and_reads_the_result_in_a_real_browser(contest, engine):
    from playwright.sync_api import expect

    base, email, created = contest["base"], contest["email"], contest["contest"]
    with desktop_page() as page:
        page.goto(f"{base}/signin")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Email me a sign-in link").click()
        page.goto(f"{base}/dev/outbox")
        page.locator("article.mail", has_text=email).first.locator("a").first.click()
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("You are signed in.")).to_be_visible()

        page.get_by_role("link", name="Contests").click()
        expect(page.get_by_role("heading", name="Contests", level=1)).to_be_visible()
        shoot(page, "01-contests")
        page.get_by_role("link", name=created["name"]).click()
        expect(page.get_by_test_id("commitment")).to_have_text(created["seed_commitment"])
        shoot(page, "02-contest-open")
        page.get_by_role("button", name="Enter the draw").click()
        expect(page.get_by_text("You are entered in the draw.")).to_be_visible()
        expect(page.get_by_test_id("outcome")).to_contain_text("You are entered")
        shoot(page, "03-entered")

        move_window(engine, created["id"], closed=True)
        drawn = requests.post(f"{base}/v1/contests/{created['id']}/draw", headers=contest["headers"], timeout=10)
        assert drawn.status_code == 200, drawn.text
        result = drawn.json()
        page.reload()
        expect(page.get_by_test_id("outcome")).to_contain_text("You won!")
        expect(page.get_by_test_id("seed")).to_have_text(result["seed"])
        expect(page.get_by_test_id("entries-hash")).to_have_text(result["entries_hash"])
        expect(page.get_by_test_id("entries-count")).to_have_text("1")
        shoot(page, "04-result")
        entries = requests.get(
            f"{base}/v1/contests/{created['id']}/entries", headers=contest["headers"], timeout=10
        ).json()["data"]
        entry_ids = [e["entry_id"] for e in entries]
        assert verify_draw(
            result["seed"], created["seed_commitment"], entry_ids, result["entries_hash"], result["winners"], 1
        )
        expect(page.get_by_test_id("entry-id")).to_have_text(entry_ids[0])

        page.get_by_role("link", name="your orders").click()
        expect(page.get_by_role("heading", name="My orders")).to_be_visible()
        code = page.locator("code.code").first.inner_text()
        assert code in contest["voucher"]["generated_codes"]
        expect(page.locator(".order").first).to_contain_text("contest prize")
        shoot(page, "05-orders-prize")
