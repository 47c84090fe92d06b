"""Every answer of every route in app.url_map carries the security headers.

The routes are read from the app, so a new page or operation is checked the day it is
added: a path parameter without a sample value fails here, and a new endpoint is
expected to be ``no-store`` unless this module lists it as cacheable.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.routes_doc import IMPLICIT_METHODS, api_operations
from app.web.views import CSRF_EXEMPT
from tests.conftest import BACKEND, make_app
from tests.factories.affiliates import new_link
from tests.factories.boutique import redeem
from tests.factories.members import member_with_points
from tests.integration.test_route_access import Tenants, _parameters, op_id, tenants  # noqa: F401 (fixture)

APP = make_app("sqlite://")
PAGE_POLICY = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "https:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
DATA_POLICY = {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}
DOCS_POLICY = {
    **PAGE_POLICY,
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
}
HSTS = "max-age=31536000; includeSubDomains"
# What may be kept by a browser or a proxy, and for whom: nothing in it is personal.
# Every other endpoint must answer no-store.
CACHEABLE = {
    "static": "anyone",
    "web.static": "anyone",
    "api-docs.openapi_json": "anyone",
    "docs.page": "anyone",
    "docs.asset": "anyone",
    "web.catalog": "anonymous",  # a member's copy shows their balance
    "web.problem_type": "anonymous",
    "web.item": "anonymous",
}
# Sample values of the pages' path parameters, by endpoint (the /v1 ones come from Tenants).
FILES = {"static": "link.css", "web.static": "boutique.css", "docs.asset": "swagger-ui.css"}
ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "app" / "web" / "templates"
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    endpoint: str

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


ROUTES = sorted(
    (
        Route(method, rule.rule, rule.endpoint)
        for rule in APP.url_map.iter_rules()
        for method in rule.methods - IMPLICIT_METHODS
    ),
    key=str,
)
API = {(op.method, op.rule): op for op in api_operations(APP)}
PAGES = [route for route in ROUTES if route.method == "GET" and not route.rule.startswith("/v1/")]
API_READS = [route for route in ROUTES if route.method == "GET" and route.rule.startswith("/v1/")]
WRITES = [route for route in ROUTES if route.method != "GET"]


def answer(client, path: str, **kwargs):
    """The whole answer, its body read and its file (a static one) closed."""
    response = client.open(path, **kwargs)
    response.get_data()
    response.close()
    return response


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {directive[0]: directive[1:] for directive in directives}


def assert_secured(response, *, production: bool = False) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"
    if response.request.path == "/docs":
        # Swagger UI sets style attributes: that page alone allows inline styles, never inline scripts.
        assert policy(response) == DOCS_POLICY
    else:
        assert policy(response) == (PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY)
        assert "unsafe" not in response.headers["Content-Security-Policy"]
    if production:
        assert response.headers.get("Strict-Transport-Security") == HSTS
    else:
        assert "Strict-Transport-Security" not in response.headers


def assert_cache(response, endpoint: str, caller: str) -> None:
    may_keep = CACHEABLE.get(endpoint) in ("anyone", caller)
    no_store = "no-store" in response.headers.get("Cache-Control", "")
    assert no_store != may_keep, (endpoint, caller, response.headers.get("Cache-Control"))


@dataclass
class Visitors:
    tenants: Tenants
    member: object  # a test client signed in as a member with a redeemed voucher
    values: dict[str, str]

    def page_path(self, route: Route) -> str:
        path = route.rule
        values = {**self.values, "filename": FILES.get(route.endpoint, ""), "name": "validation-failed"}
        for name in _parameters(route.rule):
            if not values.get(name):
                raise AssertionError(f"{route}: no sample value for <{name}>; add one to this module")
            path = re.sub(r"<[^<>]*\b" + name + ">", values[name], path)
        return path


@pytest.fixture(scope="module")
def visitors(app, client, tenants) -> Visitors:  # noqa: F811 (the fixture imported above)
    from app.audience.services import unsubscribe_token
    from app.extensions import db

    with app.app_context():
        _email, earned, member = member_with_points(app, db.engine, client, tenants.merchant_a)
        unsubscribe = unsubscribe_token(int(earned["member_id"]), "merchants")
    assert redeem(member, tenants.values["voucher_item_id"]).status_code == 303
    link = new_link(client, tenants.affiliate_a["headers"], tenants.values["program_id"])
    values = {"item_id": tenants.values["item_id"], "code": link["code"], "token": unsubscribe}
    values["contest_id"] = tenants.values["contest_id"]  # free entry: every member sees its page
    return Visitors(tenants, member, values)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def test_the_collected_routes_are_those_of_the_app_under_test(app):
    found = sorted(
        f"{method} {rule.rule}" for rule in app.url_map.iter_rules() for method in rule.methods - IMPLICIT_METHODS
    )

    assert found == [str(route) for route in ROUTES]
    assert PAGES and API_READS and WRITES


@pytest.mark.parametrize("route", PAGES, ids=str)
def test_every_page_is_secured_for_an_anonymous_visitor(client, visitors, route):
    response = answer(client, visitors.page_path(route))

    assert_secured(response)
    assert_cache(response, route.endpoint, "anonymous")


# Not a page of members: the metrics ask for the operator's key (or METRICS_TOKEN).
FOR_THE_OPERATOR = {"metrics"}


@pytest.mark.parametrize("route", PAGES, ids=str)
def test_every_page_is_secured_for_a_signed_in_member(visitors, route):
    response = answer(visitors.member, visitors.page_path(route))

    expected = (401,) if route.endpoint in FOR_THE_OPERATOR else (200, 302)
    assert response.status_code in expected, (response.status_code, response.get_data(as_text=True)[:500])
    assert_secured(response)
    assert_cache(response, route.endpoint, "member")


def test_the_member_pages_with_codes_and_personal_data_are_rendered_and_not_stored(visitors):
    contest = f"/contests/{visitors.values['contest_id']}"
    for path in ("/orders", "/points", "/account", f"/items/{visitors.values['item_id']}/redeem", "/signin", contest):
        response = visitors.member.get(path)

        assert response.status_code == 200 and response.mimetype == "text/html", path
        assert response.headers["Cache-Control"] == "no-store", path
        assert policy(response) == PAGE_POLICY, path
    assert '<code class="code">' in visitors.member.get("/orders").get_data(as_text=True)


@pytest.mark.parametrize("route", API_READS, ids=str)
def test_every_api_read_is_secured_and_not_stored(client, visitors, route):
    op = API[(route.method, route.rule)]
    world = visitors.tenants

    response = client.get(world.path(op), headers=world.headers(op.access[0]))

    # 404: a resource A has not set up yet (billing, payout method); 422: required query arguments.
    assert response.status_code in (200, 404, 422), (op_id(op), response.get_json())
    assert_secured(response)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("route", WRITES, ids=str)
def test_every_refused_write_is_secured_and_not_stored(client, visitors, route):
    # No key and no CSRF token: the refusal (problem+json or an HTML page) is an answer too.
    path = visitors.tenants.path(API[(route.method, route.rule)]) if route.rule.startswith("/v1/") else route.rule
    path = visitors.page_path(Route(route.method, path, route.endpoint))
    if route.endpoint in CSRF_EXEMPT:  # a signed token in the address is its authority: a forged one is refused
        path = path.replace(visitors.values["token"], "forged-token")

    response = client.open(path, method=route.method)

    assert 400 <= response.status_code < 500
    assert_secured(response)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/no-such-page", "text/html"), ("/v1/no-such-thing", "application/problem+json"), ("/c/!bad", "text/html")],
)
def test_errors_outside_any_view_are_secured(client, path, mimetype):
    response = client.get(path)

    assert response.status_code == 404 and response.mimetype == mimetype
    assert_secured(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_tracking_redirect_is_secured(client, visitors):
    response = client.get(f"/c/{visitors.values['code']}")

    assert response.status_code == 302
    assert_secured(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_member_templates_have_nothing_inline_the_policy_would_refuse():
    for template in sorted(TEMPLATES.glob("*.html")):
        assert not INLINE.search(template.read_text()), template.name


def test_the_operations_guide_states_the_headers_sent(client):
    guide = (ROOT / "docs" / "operations.md").read_text()
    page, data = client.get("/signin"), client.get("/health")

    for value in (
        page.headers["Content-Security-Policy"],
        data.headers["Content-Security-Policy"],
        page.headers["Referrer-Policy"],
        HSTS,
    ):
        assert f"`{value}`" in guide, value


# --- production ---------------------------------------------------------------------

PRODUCTION = {
    "LOYALTY_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "LEDGER_SIGNING_KEY": base64.b64encode(b"production-like ledger seed 32b!").decode(),
    "CLICK_TOKEN_KEYS": ["c" * 40],
    "WEBHOOK_ALLOW_INSECURE_URLS": False,
    "STRIPE_API_BASE": "https://api.stripe.com",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
}
# Answers that never read the database: on SQLite runs the production app gets a
# PostgreSQL address it never connects to (production refuses SQLite).
UNCONNECTED_POSTGRES = "postgresql+psycopg://nobody@127.0.0.1:1/never"
PRODUCTION_PATHS = [
    ("GET", "/health"),
    ("GET", "/signin"),
    ("GET", "/items/1/redeem"),
    ("GET", "/no-such-page"),
    ("GET", "/v1/no-such-thing"),
    ("GET", "/c/!bad"),
    ("GET", "/static/boutique/boutique.css"),
    ("POST", "/signout"),
    ("POST", "/stripe/webhook"),
]


@pytest.fixture(scope="module")
def production_app(db_url):
    application = make_app(db_url if BACKEND == "postgresql" else UNCONNECTED_POSTGRES, **PRODUCTION)
    assert application.config["LOYALTY_ENV"] == "production"
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize(("method", "path"), PRODUCTION_PATHS)
def test_production_pins_the_site_to_https(production_app, method, path):
    response = answer(production_app.test_client(), path, method=method, base_url="https://boutique.example")

    assert_secured(response, production=True)


@pytest.mark.parametrize(("method", "path"), PRODUCTION_PATHS)
def test_development_never_pins_localhost_to_https(client, method, path):
    response = answer(client, path, method=method)

    assert_secured(response, production=False)
