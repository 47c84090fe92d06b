"""The affiliate network end to end over real HTTP on loopback."""

from __future__ import annotations

import csv
import io
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy.orm import Session

import ledger
from app.clicks import services as clicks
from ledger import accounts
from tests.factories.merchants import merchant_body

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
)


def call(http: requests.Session, method: str, url: str, key: str, expected: int, **kwargs):
    response = http.request(
        method, url, headers={"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}, timeout=10, **kwargs
    )
    assert response.status_code == expected, (url, response.text)
    return response


def _network(http: requests.Session, base: str, admin: str) -> tuple[dict, dict, dict, dict]:
    """A merchant with a 7.5% program, an affiliate approved into it and its tracking link."""
    merchant = call(
        http, "POST", f"{base}/v1/merchants", admin, 201, json=merchant_body(domains=["boutique.example"])
    ).json()
    affiliate = call(
        http,
        "POST",
        f"{base}/v1/affiliates",
        admin,
        201,
        json={
            "name": "Comparateur",
            "email": f"aff-{uuid.uuid4().hex[:8]}@example.org",
            "website": "https://compare.example/",
        },
    ).json()
    program = call(
        http,
        "POST",
        f"{base}/v1/programs",
        merchant["api_key"],
        201,
        json={"name": "Spring", "commission": {"type": "percent", "basis_points": 750}, "network_fee_bps": 2000},
    ).json()
    application = call(http, "POST", f"{base}/v1/programs/{program['id']}/applications", affiliate["api_key"], 201)
    assert application.json()["status"] == "pending"
    call(
        http,
        "PATCH",
        f"{base}/v1/programs/{program['id']}/applications/{application.json()['id']}",
        merchant["api_key"],
        200,
        json={"status": "approved"},
    )
    link = call(
        http,
        "POST",
        f"{base}/v1/links",
        affiliate["api_key"],
        201,
        json={"program_id": program["id"], "landing_url": "https://www.boutique.example/robe?taille=38#avis"},
    ).json()
    return merchant, affiliate, program, link


def test_click_to_approved_commission_shows_the_same_figures_in_json_csv_and_ledger(live_server, app, engine):
    base, admin = live_server.url, live_server.admin_key
    http = requests.Session()
    merchant, affiliate, program, link = _network(http, base, admin)
    assert link["url"] == f"{base}/c/{link['code']}"

    clicked = http.get(link["url"], headers={"User-Agent": BROWSER}, allow_redirects=False, timeout=10)

    assert clicked.status_code == 302
    location = urlsplit(clicked.headers["Location"])
    assert (location.netloc, location.path, location.fragment) == ("www.boutique.example", "/robe", "avis")
    query = parse_qs(location.query)
    assert query["taille"] == ["38"]
    token = query["lp_click"][0]

    recorded = call(
        http,
        "POST",
        f"{base}/v1/orders",
        merchant["api_key"],
        201,
        json={
            "order_id": f"E2E-{uuid.uuid4().hex[:8]}",
            "amount_cents": 30_600,
            "currency": "EUR",
            "member_email": f"buyer-{uuid.uuid4().hex[:8]}@example.com",
            "click_token": token,
        },
    ).json()
    commission = recorded["commission"]
    assert (commission["status"], commission["amount_cents"], commission["affiliate_id"]) == (
        "pending",
        30_600 * 750 // 10_000,
        affiliate["id"],
    )
    approved = call(http, "POST", f"{base}/v1/commissions/{commission['id']}/approve", merchant["api_key"], 200)
    assert approved.json()["status"] == "approved"
    clicks.flush(app)

    report = call(http, "GET", f"{base}/v1/affiliate/report?group_by=link", affiliate["api_key"], 200).json()
    as_csv = call(
        http,
        "GET",
        f"{base}/v1/affiliate/report?group_by=link",
        affiliate["api_key"],
        200,
        headers={"Accept": "text/csv"},
    )

    [row] = report["rows"]
    assert (row["key"], row["clicks"], row["unique_clicks"], row["orders"]) == (link["id"], 1, 1, 1)
    assert row["commission_approved_cents"] == 2_295
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    [csv_row] = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert csv_row == {k: str(v) for k, v in row.items()}
    with Session(engine) as session:
        payable = accounts.find_account(session, accounts.affiliate_payable_account(affiliate["id"]), "EUR")
        fees = accounts.find_account(session, accounts.REVENUE_FEES, "EUR")
        assert accounts.balance(session, payable) == row["commission_approved_cents"] == 2_295
        assert accounts.balance(session, fees) >= 459
        assert ledger.verify(session).ok
