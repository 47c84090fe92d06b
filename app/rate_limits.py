"""Rate limits (Flask-Limiter): per API key on ``/v1``, per client address for failed
authentication on ``/v1`` (key guessing) and for the public pages. The tracking
redirect ``/c/<code>``, the probes and Stripe's webhooks are not limited.

Counters live in ``RATELIMIT_STORAGE_URI``: in memory for the embedded default (one
process), Redis in production (shared by every worker; production refuses anything
else). A refused request is a 429 problem with ``Retry-After``. Client addresses are
the connection's, or ``X-Forwarded-For``'s through ``TRUSTED_PROXY_HOPS`` proxies
(``ProxyFix``), never a header a client could simply send.
"""

from __future__ import annotations

import hashlib

from flask import Flask, current_app, request
from flask_limiter import ApplicationLimit, Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from app.constants import RATE_LIMIT_EXEMPT_PREFIXES

_API = "/v1/"


def _address() -> str:
    return request.remote_addr or "unknown"


def _key_bucket() -> str:
    """The caller's key, hashed (an unknown key gets a bucket of its own, and guessing
    is held back by the per-address limit on failures)."""
    header = request.headers.get("Authorization", "")
    return "key:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]


def _not_api() -> bool:
    return not request.path.startswith(_API)


def _not_public_page() -> bool:
    return request.path.startswith(_API) or request.path.startswith(RATE_LIMIT_EXEMPT_PREFIXES)


def _limit(name: str):
    return lambda: current_app.config[name]


def _retry_after_at_least_one_second(response):
    """A 429's ``Retry-After`` is whole seconds, rounded down by the limiter: a window
    that frees up in 0.4 s would say 0 and clients would retry at once into the same
    full window. Never less than 1."""
    if response.status_code == 429:
        try:
            seconds = int(response.headers.get("Retry-After", "0"))
        except ValueError:
            seconds = 0
        response.headers["Retry-After"] = str(max(1, seconds))
    return response


def register(app: Flask) -> None:
    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse).
    app.after_request(_retry_after_at_least_one_second)
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    limiter = Limiter(
        key_func=_address,
        application_limits=[
            ApplicationLimit(_limit("RATE_LIMIT_PER_KEY"), key_function=_key_bucket, exempt_when=_not_api),
            ApplicationLimit(
                _limit("RATE_LIMIT_FAILED_AUTH_PER_ADDRESS"),
                key_function=lambda: "failed-auth:" + _address(),
                exempt_when=_not_api,
                deduct_when=lambda response: response.status_code == 401,
            ),
            ApplicationLimit(
                _limit("RATE_LIMIT_PAGES_PER_ADDRESS"),
                key_function=lambda: "pages:" + _address(),
                exempt_when=_not_public_page,
            ),
        ],
        headers_enabled=True,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        strategy="moving-window",
        enabled=app.config["RATELIMIT_ENABLED"],
    )
    limiter.init_app(app)
    app.extensions["rate_limits"] = limiter
