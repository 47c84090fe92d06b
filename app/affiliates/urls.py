"""Landing URLs: https on one of the merchant's registered domains, nothing else.

The check is strict on purpose (a tracking link must never become an open
redirect): the URL is refused rather than repaired.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.constants import LANDING_URL_LENGTH_MAX

_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
# Everything a browser might read differently from us: spaces, controls, backslashes.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_NETLOC = re.compile(r"^[A-Za-z0-9.-]+(:443)?$")


class BadLandingUrl(ValueError):
    pass


def check_landing_url(url: str, domains: list[str]) -> str:
    """Return ``url`` if it is https on ``domains`` (exact host or a subdomain); raise
    ``BadLandingUrl`` otherwise. Only the default port (443) is accepted."""
    if len(url) > LANDING_URL_LENGTH_MAX:
        raise BadLandingUrl(f"Use at most {LANDING_URL_LENGTH_MAX} characters.")
    if not url.isascii():
        raise BadLandingUrl("Use an ASCII URL; write international host names in their xn-- form.")
    if _UNSAFE.search(url):
        raise BadLandingUrl("Spaces, control characters and backslashes are not allowed.")
    if not url[:8].lower() == "https://":
        raise BadLandingUrl("Use an https:// URL.")
    parts = urlsplit(url)
    # No userinfo (https://shop.example@evil.example), no percent-encoding, only port 443.
    if not _NETLOC.match(parts.netloc):
        raise BadLandingUrl("Use a plain host name: no user, password, encoded characters or other port.")
    # One trailing dot (an absolute name) is the same host; more make an empty label, which
    # no browser resolves and the redirect could not even encode.
    host = parts.netloc.lower().removesuffix(":443").removesuffix(".")
    if not _HOSTNAME.match(host):
        raise BadLandingUrl("Not a valid host name.")
    if not any(host == domain or host.endswith("." + domain) for domain in domains):
        raise BadLandingUrl("The host must be one of the merchant's domains or a subdomain of one.")
    return url


def website_host(url: str) -> str | None:
    """The lower-case host of an affiliate's website, for the self-referral rule."""
    try:
        host = urlsplit(url if "//" in url else "https://" + url).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None
