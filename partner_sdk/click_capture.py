"""Keep the affiliate click token of a landing URL in a first-party cookie.

Wrap your WSGI application (Flask: ``app.wsgi_app = ClickCapture(app.wsgi_app)``;
Django: ``application = ClickCapture(get_wsgi_application())`` in ``wsgi.py``).
A GET whose query string carries ``lp_click`` gets a 302 to the same URL
without that parameter and a cookie holding the token (Secure, HttpOnly,
SameSite=Lax, for the attribution window). At checkout, read it back with
``click_token_from_environ(environ)`` or ``click_token_from_cookie_header(...)``
and pass it to ``MerchantClient.record_order(..., click_token=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote, unquote_plus

__all__ = [
    "ATTRIBUTION_WINDOW_S_DEFAULT",
    "COOKIE_NAME_DEFAULT",
    "PARAM",
    "ClickCapture",
    "click_token_from_cookie_header",
    "click_token_from_environ",
]

PARAM = "lp_click"
COOKIE_NAME_DEFAULT = "lp_click"
ATTRIBUTION_WINDOW_S_DEFAULT = 30 * 24 * 3600
TOKEN_LENGTH_MAX = 1024
# Tokens are URL-safe (itsdangerous): anything else is not a token and is not stored.
_TOKEN = re.compile(rf"^[A-Za-z0-9_.\-~:]{{1,{TOKEN_LENGTH_MAX}}}$")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ClickCapture:
    """WSGI middleware: ``?lp_click=<token>`` on a GET becomes a cookie and a clean 302."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        cookie_name: str = COOKIE_NAME_DEFAULT,
        max_age_s: int = ATTRIBUTION_WINDOW_S_DEFAULT,
        secure: bool = True,
        cookie_path: str = "/",
        cookie_domain: str | None = None,
    ) -> None:
        if max_age_s <= 0:
            raise ValueError("max_age_s must be > 0")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", cookie_name):
            raise ValueError("cookie_name must be 1 to 64 letters, digits, _ or -")
        self.app = app
        self.cookie_name = cookie_name
        self.max_age_s = max_age_s
        self.secure = secure
        self.cookie_path = cookie_path
        self.cookie_domain = cookie_domain

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") != "GET":
            return self.app(environ, start_response)
        query = environ.get("QUERY_STRING", "")
        if PARAM not in query:
            return self.app(environ, start_response)
        # Split the raw query ourselves so every other parameter stays byte for byte.
        tokens, kept = [], []
        for segment in query.split("&"):
            name, _, value = segment.partition("=")
            if unquote_plus(name) == PARAM:
                tokens.append(unquote_plus(value))
            elif segment:
                kept.append(segment)
        if not tokens:
            return self.app(environ, start_response)
        headers = [("Location", _location(environ, kept)), ("Cache-Control", "no-store"), ("Content-Length", "0")]
        token = tokens[-1]
        if _TOKEN.match(token):
            headers.append(("Set-Cookie", self._cookie(token)))
        start_response("302 Found", headers)
        return [b""]

    def _cookie(self, token: str) -> str:
        parts = [f"{self.cookie_name}={token}", f"Max-Age={self.max_age_s}", f"Path={self.cookie_path}"]
        if self.cookie_domain:
            parts.append(f"Domain={self.cookie_domain}")
        if self.secure:
            parts.append("Secure")
        parts += ["HttpOnly", "SameSite=Lax"]
        return "; ".join(parts)


def _location(environ: dict[str, Any], kept: list[str]) -> str:
    # A path-absolute Location keeps the visitor on this host, whatever Host header was sent.
    # WSGI hands the path over as latin-1-decoded bytes.
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace")
    path = "/" + quote(raw, safe="/;=,:@!$&'()*+~-._").lstrip("/")  # never "//host": that leaves the site
    return path + ("?" + "&".join(kept) if kept else "")


def click_token_from_cookie_header(cookie_header: str | None, cookie_name: str = COOKIE_NAME_DEFAULT) -> str | None:
    """The click token in a ``Cookie:`` header value, or None."""
    if not cookie_header:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(cookie_name)
    if morsel is None or not _TOKEN.match(morsel.value):
        return None
    return morsel.value


def click_token_from_environ(environ: dict[str, Any], cookie_name: str = COOKIE_NAME_DEFAULT) -> str | None:
    """The click token of the current WSGI request (Flask: ``request.environ``; Django: ``request.META``)."""
    return click_token_from_cookie_header(environ.get("HTTP_COOKIE"), cookie_name)
