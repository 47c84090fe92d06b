"""The API reference at /docs in a real headless chromium: Swagger UI, served by the
platform itself (no network), draws every operation of /openapi.json under the page's
Content-Security-Policy without a single violation."""

from __future__ import annotations

from tests.e2e.test_boutique_browser import desktop_page
from tests.e2e.test_csp_browser import RECORD_VIOLATIONS
from tests.integration.test_route_access import api_operations


def test_the_api_reference_draws_every_operation_without_a_csp_violation(app, live_server):
    operations = len(list(api_operations(app)))
    with desktop_page() as page:
        console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: console.append(message.text))
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))

        page.goto(f"{live_server.url}/docs")
        page.locator(".opblock").first.wait_for()

        drawn = page.locator(".opblock").count()
        assert drawn == operations
        assert page.evaluate("window.__cspViolations") == []
        assert [text for text in console if "Content Security Policy" in text] == []
        assert failed == []
        assert "Loyalty platform API" in page.locator(".info .title").inner_text()
