"""Every page a member sees, in a real headless chromium, under the strict CSP: no
violation is reported, styles and pictures load, and the forms still work (sign in,
search, redeem, consent, sign out)."""

from __future__ import annotations

import re
import time

from tests.e2e.test_boutique_browser import desktop_page, shop  # noqa: F401 (fixture)

# Runs before any script of each document: every violation the page reports is kept.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
CSP_CONSOLE = re.compile(r"Content[- ]Security[- ]Policy", re.IGNORECASE)


def wait_until(page, expression: str, timeout_s: float = 15.0) -> bool:
    """Poll ``expression`` from the test, not from page script: ``wait_for_function``
    compiles its predicate in the page, which this site's CSP (no eval) refuses
    whenever the first check is false."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return True
        page.wait_for_timeout(100)
    return False


class Visit:
    """One page's watch: the violations its document recorded and the console's CSP messages."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: self.console.append(message.text))

    def clean(self, name: str) -> None:
        """The page is styled (boutique.css or link.css applied) and reported no violation."""
        page = self.page
        page.wait_for_load_state("load")
        assert page.evaluate("window.__cspViolations") == [], name
        assert [text for text in self.console if CSP_CONSOLE.search(text)] == [], name
        styled = page.evaluate("getComputedStyle(document.body).marginTop") != "8px"  # the browser's default
        assert styled, f"{name}: its stylesheet did not apply"
        # This site's pictures: a merchant's image_url elsewhere cannot load here (no network).
        # Lazy pictures in view start after the load event: on a busy machine give them time
        # (if they never complete, the count below says which ones failed).
        mine = "[...document.images].filter((img) => img.src.startsWith(location.origin))"
        wait_until(page, f"{mine}.every((img) => img.complete)")
        broken = page.evaluate(
            "[...document.images].filter((img) => img.src.startsWith(location.origin)"
            " && (!img.complete || img.naturalWidth === 0)).length"
        )
        assert broken == 0, f"{name}: {broken} picture(s) did not load"


def sign_in(page, visit: Visit, base: str, email: str) -> None:
    """From the catalog through the emailed link, every page on the way watched."""
    from playwright.sync_api import expect

    page.goto(f"{base}/")
    visit.clean("catalog, signed out")
    page.get_by_role("link", name="Sign in").click()
    visit.clean("sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    visit.clean("link sent")

    page.goto(f"{base}/dev/outbox")
    visit.clean("outbox")
    page.locator("article.mail", has_text=email).first.locator("a").first.click()
    visit.clean("sign-in link")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("You are signed in.")).to_be_visible()
    visit.clean("catalog, signed in")


def test_every_page_a_member_sees_works_under_the_content_security_policy(shop):  # noqa: F811 (the fixture)
    from playwright.sync_api import expect

    base, email, items = shop["base"], shop["email"], shop["items"]
    with desktop_page() as page:
        visit = Visit(page)

        sign_in(page, visit, base, email)

        page.get_by_label("Search").fill(shop["tag"])
        page.get_by_role("button", name="Show").click()
        expect(page.locator(".card")).to_have_count(2)
        visit.clean("catalog search")

        page.get_by_role("link", name=items["voucher"]["title"]).click()
        visit.clean("item")
        page.get_by_role("link", name="Redeem").click()
        visit.clean("redeem confirm")
        page.get_by_role("button", name=re.compile("Confirm")).click()
        expect(page.get_by_role("heading", name="My orders")).to_be_visible()
        assert page.locator("code.code").first.inner_text() in items["voucher"]["generated_codes"]
        visit.clean("orders with a voucher code")

        page.goto(f"{base}/items/{items['physical']['id']}/redeem")
        page.get_by_label(re.compile("Delivery address")).fill("Ada Lovelace\n1 Rue de Test\n75001 Paris")
        page.get_by_role("button", name=re.compile("Confirm")).click()
        expect(page.locator(".order").first).to_contain_text("Placed")
        visit.clean("orders with a parcel")

        page.get_by_role("link", name="My points").click()
        expect(page.get_by_text(f"Reward: {items['voucher']['title']}")).to_be_visible()
        visit.clean("balance and history")

        page.get_by_role("link", name="Contests").click()
        expect(page.get_by_role("heading", name="Contests", level=1)).to_be_visible()
        visit.clean("contests")

        page.get_by_role("link", name="The card").click()
        expect(page.get_by_role("heading", name="The card")).to_be_visible()
        visit.clean("the card")

        page.get_by_role("link", name="My account").click()
        visit.clean("account")
        page.get_by_label(re.compile("offers from the shops", re.IGNORECASE)).check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Your choices are saved.")).to_be_visible()
        visit.clean("account saved")

        page.goto(f"{base}/items/999999999")
        visit.clean("error page")
        page.goto(f"{base}/c/no-such-link")
        expect(page.get_by_role("heading", name="This link is not available")).to_be_visible()
        visit.clean("tracking link not available")

        page.goto(f"{base}/")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You are signed out.")).to_be_visible()
        visit.clean("signed out")

        # The watch sees what the policy refuses: an injected inline style is reported.
        page.evaluate("document.head.append(Object.assign(document.createElement('style'), {textContent: 'a{}'}))")
        assert wait_until(page, "window.__cspViolations.length > 0")
        assert page.evaluate("window.__cspViolations")[0].startswith("style-src")
