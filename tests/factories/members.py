"""Members: points through real orders, and browsers signed in with an emailed link."""

from __future__ import annotations

import random
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.mail import OutboxMail
from tests.factories.names import unique_email
from tests.factories.orders import record_order

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"(https?://\S+/signin/link\?\S+)")


def csrf_of(response) -> str:
    return CSRF.search(response.get_data(as_text=True)).group(1)


def web_client(app):
    """A browser of its own: its own cookies and client address (the rate limit counts per address)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"
    return client


def last_link(engine, email: str) -> str:
    with Session(engine) as s:
        body = (
            s.execute(select(OutboxMail.body).where(OutboxMail.recipient == email).order_by(OutboxMail.id.desc()))
            .scalars()
            .first()
        )
    return LINK.search(body).group(1)


def request_link(client, email: str):
    page = client.get("/signin")
    return client.post("/signin", data={"email": email, "csrf_token": csrf_of(page), "next": "/"})


def open_link(client, link: str):
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    token = re.search(r'name="token" value="([^"]*)"', page.get_data(as_text=True)).group(1)
    return client.post("/signin/link", data={"token": token, "csrf_token": csrf_of(page), "next": "/"})


def sign_in(app, engine, email: str):
    client = web_client(app)
    assert request_link(client, email).status_code == 200
    assert open_link(client, last_link(engine, email)).status_code == 303
    return client


def earn(client, merchant: dict, email: str, amount_cents: int) -> dict:
    """Points for ``email`` through a real order (10 points per full 15 EUR)."""
    response = record_order(client, merchant["headers"], amount_cents=amount_cents, member_email=email)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def member_with_points(app, engine, client, merchant, amount_cents: int = 15000):
    email = unique_email()
    earned = earn(client, merchant, email, amount_cents)
    return email, earned, sign_in(app, engine, email)
