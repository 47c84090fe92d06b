"""Security headers on every answer: one ``after_request``, no per-view code.

Every answer forbids MIME sniffing and framing and sends a referrer policy. HTML pages
get a strict Content-Security-Policy (nothing inline, nothing from elsewhere but
pictures); other answers a policy that loads nothing. In production HSTS pins the site
to https. Answers that may show codes or personal data (everything but the public
catalog and the static files) are ``no-store``: a new endpoint is private until listed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from app.constants import (
    CACHEABLE_ENDPOINTS,
    DATA_CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    HSTS_MAX_AGE_S,
    PAGE_CONTENT_SECURITY_POLICY,
    PUBLIC_PAGE_ENDPOINTS,
    REFERRER_POLICY,
)

HSTS = f"max-age={HSTS_MAX_AGE_S}; includeSubDomains"


def register(app: Flask) -> None:
    # Read once: the environment does not change while the app runs.
    production = app.config["LOYALTY_ENV"] == "production"
    stripe_policy = stripe_page_policy(app.config["STRIPE_JS_URL"], app.config["STRIPE_API_BASE"])

    @app.after_request
    def _secure(response: Response) -> Response:
        signed_in = g.get("member") is not None  # set by the members' pages (app.web)
        response.headers.update(headers_for(response.mimetype, request.endpoint, signed_in, production=production))
        if g.get("loads_stripe_js") and response.mimetype == "text/html":
            # Only the page that says it loads Stripe.js (the card checkout) may run it and talk to Stripe.
            response.headers["Content-Security-Policy"] = stripe_policy
        return response


def stripe_page_policy(stripe_js_url: str, stripe_api_base: str) -> str:
    """The page policy, plus Stripe.js from its origin and calls to Stripe's API; nothing inline."""
    js, api = _origin(stripe_js_url), _origin(stripe_api_base)
    connect = " ".join(dict.fromkeys([js, api]))
    return f"{PAGE_CONTENT_SECURITY_POLICY}; script-src 'self' {js}; connect-src 'self' {connect}; frame-src {js}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def headers_for(mimetype: str | None, endpoint: str | None, signed_in: bool, *, production: bool) -> dict[str, str]:
    """The security headers of one answer."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": REFERRER_POLICY,
        "Content-Security-Policy": _policy(mimetype, endpoint),
    }
    if production:
        # Never in development: it would pin localhost to https in the developer's browser.
        headers["Strict-Transport-Security"] = HSTS
    if not cacheable(endpoint, signed_in):
        headers["Cache-Control"] = "no-store"
    return headers


def _policy(mimetype: str | None, endpoint: str | None) -> str:
    if mimetype != "text/html":
        return DATA_CONTENT_SECURITY_POLICY
    return DOCS_CONTENT_SECURITY_POLICY if endpoint == "docs.page" else PAGE_CONTENT_SECURITY_POLICY


def cacheable(endpoint: str | None, signed_in: bool) -> bool:
    """May a browser or a proxy keep this answer? Only when nothing in it is personal."""
    if endpoint in CACHEABLE_ENDPOINTS:
        return True
    return endpoint in PUBLIC_PAGE_ENDPOINTS and not signed_in
