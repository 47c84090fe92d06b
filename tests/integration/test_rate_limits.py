"""Rate limits: a burst past a key's limit, or past an address's failed
authentications, or past an address's page views, is a 429 problem with
Retry-After; the tracking redirect is never limited. With in-memory storage and
with Redis (127.0.0.1:6379), whose counters every worker shares."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager

import pytest
import redis

from app.extensions import db
from partner_sdk import MerchantClient, RateLimited
from tests.conftest import ADMIN_KEY, make_app, serve
from tests.factories.merchants import auth

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATE_LIMIT_PER_KEY": "5 per minute",
    "RATE_LIMIT_FAILED_AUTH_PER_ADDRESS": "3 per minute",
    "RATE_LIMIT_PAGES_PER_ADDRESS": "4 per minute",
}


@contextmanager
def limited_app(db_url: str, **config):
    """An app with the limits on (a key prefix of its own, so earlier counters never
    interfere), its Stripe connections and database pool closed afterwards."""
    application = make_app(db_url, RATELIMIT_KEY_PREFIX=uuid.uuid4().hex, **{**LIMITS, **config})
    try:
        yield application
    finally:
        application.extensions["stripe_gateway"].close()
        with application.app_context():
            db.engine.dispose()


def storages():
    yield pytest.param("memory://", id="memory")
    yield pytest.param(REDIS_URL, id="redis")


@pytest.fixture(params=list(storages()))
def limited(request, db_url):
    storage = request.param
    if storage.startswith("redis"):
        redis.Redis.from_url(storage).ping()  # Redis runs on these machines: fail, never skip
    with limited_app(db_url, RATELIMIT_STORAGE_URI=storage) as application:
        yield application


def assert_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0


def test_a_burst_past_a_keys_limit_is_a_429_problem_with_retry_after(limited):
    client = limited.test_client()
    admin = auth(ADMIN_KEY)

    answers = [client.get("/v1/merchants", headers=admin) for _ in range(6)]

    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert_limited(answers[5])
    assert answers[5].mimetype == "application/problem+json"
    assert answers[5].get_json()["type"] == "/problems/too-many-requests"
    # Another key from the same address is not held back by the first one's limit.
    assert client.get("/v1/merchants", headers=auth("lk_other-key")).status_code == 401


def test_key_guessing_is_held_back_per_address_and_other_addresses_are_not(limited):
    client = limited.test_client()
    guesser = {"REMOTE_ADDR": "198.51.100.7"}

    guesses = [client.get("/v1/merchants", headers=auth(f"lk_guess{i}"), environ_base=guesser) for i in range(4)]
    valid_after = client.get("/v1/merchants", headers=auth(ADMIN_KEY), environ_base=guesser)
    elsewhere = client.get("/v1/merchants", headers=auth(ADMIN_KEY), environ_base={"REMOTE_ADDR": "198.51.100.8"})

    assert [g.status_code for g in guesses[:3]] == [401] * 3
    assert_limited(guesses[3])
    assert_limited(valid_after)
    assert elsewhere.status_code == 200


def test_public_pages_are_limited_per_address_and_the_redirect_never(limited):
    client = limited.test_client()
    visitor = {"REMOTE_ADDR": "198.51.100.9"}

    pages = [client.get("/signin", environ_base=visitor) for _ in range(5)]
    redirects = [client.get("/c/unknown-code", environ_base=visitor) for _ in range(10)]

    assert [p.status_code for p in pages[:4]] == [200] * 4
    assert_limited(pages[4])
    assert pages[4].mimetype == "text/html"
    assert {r.status_code for r in redirects} == {404}  # an unknown link: never a 429
    assert client.get("/health", environ_base=visitor).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(db_url):
    with limited_app(db_url, TRUSTED_PROXY_HOPS=1) as app:
        client = app.test_client()

        def page(forwarded_for: str):
            return client.get("/signin", headers={"X-Forwarded-For": forwarded_for})

        first = [page("203.0.113.1") for _ in range(5)]
        second = page("203.0.113.2")

    assert_limited(first[4])
    assert second.status_code == 200


def test_without_a_trusted_proxy_a_forwarded_header_changes_nothing(db_url):
    with limited_app(db_url) as app:
        client = app.test_client()
        answers = [client.get("/signin", headers={"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(5)]

    assert_limited(answers[4])


def test_the_sdk_waits_as_long_as_retry_after_says_and_then_succeeds(db_url, merchant):
    seen: list[int] = []
    with limited_app(db_url, RATE_LIMIT_PER_KEY="2 per 1 second") as app:

        def counting(environ, start_response):
            def record(status, headers, exc_info=None):
                seen.append(int(status.split()[0]))
                return start_response(status, headers, exc_info)

            return app.wsgi_app(environ, record)

        # Retry-After is whole seconds and the moving window may still be full at the first retry.
        with serve(counting) as url, MerchantClient(url, merchant["api_key"], max_retries=5) as client:
            started = time.monotonic()
            balances = [client.find_member("nobody@example.com") for _ in range(3)]
            waited_s = time.monotonic() - started
        with pytest.raises(RateLimited):
            with serve(counting) as url, MerchantClient(url, merchant["api_key"], max_retries=0) as client:
                for _ in range(3):
                    client.find_member("nobody@example.com")

    assert balances == [None, None, None]
    assert 429 in seen and seen[seen.index(429) + 1 :].count(200) >= 1
    assert waited_s >= 1.0  # the SDK slept Retry-After (1 s), not its own short backoff


@pytest.mark.parametrize(("said", "sent"), [("0", "1"), ("", "1"), ("3", "3")])
def test_a_429_never_tells_a_client_to_retry_in_0_seconds(said, sent):
    from flask import Response

    from app.rate_limits import _retry_after_at_least_one_second

    refused = Response(status=429, headers={"Retry-After": said} if said else {})
    served = Response(status=200)

    assert _retry_after_at_least_one_second(refused).headers["Retry-After"] == sent
    assert "Retry-After" not in _retry_after_at_least_one_second(served).headers
