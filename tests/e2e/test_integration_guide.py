"""docs/integration.md shows the files of examples/snippets verbatim, and every one of
them runs against a platform on loopback with the output its comments promise."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import types
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from werkzeug.test import Client

from app.extensions import db
from app.unit_of_work import UnitOfWork
from app.webhooks.delivery import deliver_due
from partner_sdk import AffiliateClient, MerchantClient
from tests.conftest import ADMIN_KEY, make_app, serve
from tests.e2e.sdk_world import click
from tests.factories.merchants import auth, merchant_body
from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integration.md"
SNIPPETS = ROOT / "examples" / "snippets"
EXPECTED_OUTPUT = {
    "record_order.py": "180 180\nTrue 180\n",
    "refund.py": "30 150\n150\n",
    "errors_and_retries.py": "conflict: 409\n['amount_cents']\nrecorded\n",
    "pagination.py": "alice@example.com 150\nbob@example.com 10\n1 True\n",
    # Shown in section 4; run after pagination, whose listing would otherwise show its new member.
    "preview_and_lines.py": "10 [(None, 10)]\nTrue None\n",
    "webhook_endpoint.py": "True\n",
    "affiliate_program.py": "Spring referrals True\n",
    "affiliate_client.py": "approved\nTrue\nday 0\n"
    "['commission.created', 'commission.approved', 'commission.rejected', 'commission.paid', 'payout.paid']\n",
    "commissions.py": "pending 1000\n200\napproved rejected\n",
    "boutique_supplier.py": "10 50 50\nnot redeemed by a member yet, or already used\n",
    "check_books.py": "True\nTrue True\nearn 0\n",
}


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


def test_the_guide_shows_every_snippet_verbatim_and_no_untested_python():
    blocks = python_blocks(GUIDE.read_text())
    snippets = {path.name: path.read_text() for path in sorted(SNIPPETS.glob("*.py"))}

    assert sorted(blocks) == sorted(snippets.values())
    assert set(EXPECTED_OUTPUT) | {
        "webhook_receiver_flask.py",
        "click_capture_flask.py",
        "click_capture_django.py",
    } == set(snippets)


@pytest.fixture(scope="module")
def platform(databases):
    application = make_app(databases.new())
    with serve(application) as url:
        yield application, url
    with application.app_context():
        db.engine.dispose()


def prepare(name: str, env: dict[str, str], application, url: str) -> None:
    """What the guide's reader has at hand before a snippet: an affiliate key, the program id, a click."""
    if name == "affiliate_client.py":
        affiliate = (
            application.test_client()
            .post(
                "/v1/affiliates",
                json={"name": "Spring blog", "email": "blog@example.org", "website": "https://blog.example/"},
                headers=auth(ADMIN_KEY),
            )
            .get_json()
        )
        env["LOYALTY_AFFILIATE_KEY"] = affiliate["api_key"]
        [program] = MerchantClient(url, env["LOYALTY_MERCHANT_KEY"]).list_programs().data
        env["LOYALTY_PROGRAM_ID"] = program.id
    if name == "check_books.py":  # the platform signs heads every few seconds; the guide's reader waits for one
        assert application.test_client().post("/v1/ledger/tree-heads", headers=auth(ADMIN_KEY)).status_code == 201
    if name == "commissions.py":
        [link] = AffiliateClient(url, env["LOYALTY_AFFILIATE_KEY"]).list_links().data
        env["CLICK_TOKEN"], env["LEAD_CLICK_TOKEN"] = click(link.url), click(link.url)


def test_the_client_snippets_run_in_order_with_the_promised_output(platform):
    application, url = platform
    merchant = application.test_client().post("/v1/merchants", json=merchant_body(), headers=auth(ADMIN_KEY)).get_json()
    with Receiver() as receiver:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LOYALTY_PLATFORM_URL": url,
            "LOYALTY_MERCHANT_KEY": merchant["api_key"],
            "SHOP_WEBHOOK_URL": receiver.url,
            "AFFILIATE_WEBHOOK_URL": receiver.url,
        }
        for name, expected in EXPECTED_OUTPUT.items():  # in the guide's order: later ones use earlier orders
            prepare(name, env, application, url)
            ran = subprocess.run(
                [sys.executable, str(SNIPPETS / name)], env=env, capture_output=True, text=True, timeout=60
            )
            assert (ran.returncode, ran.stderr) == (0, ""), name
            assert ran.stdout == expected, name


def test_the_flask_webhook_receiver_snippet_verifies_a_real_delivery(platform, monkeypatch, capsys):
    application, url = platform
    merchant = application.test_client().post("/v1/merchants", json=merchant_body(), headers=auth(ADMIN_KEY)).get_json()
    client = MerchantClient(url, merchant["api_key"])
    receiver_app = runpy.run_path(str(SNIPPETS / "webhook_receiver_flask.py"))["app"]
    with serve(receiver_app) as receiver_url:
        created = client.create_webhook_endpoint(receiver_url + "/webhooks/loyalty", ["order.points_awarded"])
        monkeypatch.setenv("LOYALTY_WEBHOOK_SECRET", created.secret)
        client.record_order("ORDER-2001", 4599, "carol@example.com")
        with application.app_context(), UnitOfWork(Session(db.engine)) as uow:
            while deliver_due(uow, allow_insecure=True):
                uow.tick()

    [attempt] = client.list_webhook_attempts(created.endpoint.id).data
    assert (attempt.outcome, attempt.status_code) == ("delivered", 204)
    assert "order ORDER-2001 earned 30" in capsys.readouterr().out


def test_the_flask_click_capture_snippet_keeps_the_token_for_checkout():
    app = runpy.run_path(str(SNIPPETS / "click_capture_flask.py"))["app"]
    browser = app.test_client()

    landing = browser.get("/?lp_click=tok.1&utm=x")
    checkout = browser.post("/checkout")

    assert (landing.status_code, landing.headers["Location"]) == (302, "/?utm=x")
    assert checkout.get_json() == {"click_token": "tok.1"}


def test_the_django_click_capture_snippet_wraps_the_wsgi_application(monkeypatch):
    def django_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"django"]

    fake = types.ModuleType("django.core.wsgi")
    fake.get_wsgi_application = lambda: django_app
    for name in ("django", "django.core"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "django.core.wsgi", fake)

    snippet = runpy.run_path(str(SNIPPETS / "click_capture_django.py"))
    browser = Client(snippet["application"])

    landing = browser.get("/shop/?lp_click=tok.2")
    page = browser.get("/shop/")

    assert (landing.status_code, landing.headers["Location"]) == (302, "/shop/")
    assert page.get_data() == b"django"
    request = types.SimpleNamespace(META={"HTTP_COOKIE": "lp_click=tok.2"})
    assert snippet["click_token_of"](request) == "tok.2"
