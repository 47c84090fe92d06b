"""API keys: random, shown once, stored as SHA-256 hashes, one tenant each."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import wraps

from flask import current_app, g, request

from app.affiliates.models import AFFILIATE_BY_KEY, AffiliateIdentity
from app.errors import Unauthorized
from app.extensions import db
from app.merchants.models import MERCHANT_BY_KEY, MerchantTerms

KEY_PREFIX = "lk_"
KEY_SECRET_BYTES = 32
KEY_LENGTH_MAX = 200

# Who may call a view, written on the view by the decorator that enforces it: the route
# table in docs/api.md and the refusal tests read it back from app.url_map (access_of).
OPERATOR, MERCHANT, AFFILIATE, PUBLIC = "operator", "merchant", "affiliate", "public"


def new_key() -> tuple[str, str, str]:
    """A fresh key: (the key to show once, its display prefix, its hash to store)."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_SECRET_BYTES)
    return key, key[:10], hash_key(key)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a plain digest resists guessing; no slow hash needed.
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token() -> str:
    """The key of the `Authorization: Bearer <key>` header; 401 without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > KEY_LENGTH_MAX:
        raise Unauthorized("Send 'Authorization: Bearer <key>'.")
    return token


def grants(*roles: str):
    """Mark a decorator and the wrappers it makes with the roles whose keys it lets through."""
    if not roles:
        raise ValueError("name at least one role")

    def mark(decorator):
        @wraps(decorator)
        def marking(view):
            wrapper = decorator(view)
            wrapper.access = roles
            return wrapper

        marking.access = roles
        return marking

    return mark


def public(view):
    """Mark a view that is open to callers without a key; a /v1 view needs a reason to be."""
    view.access = (PUBLIC,)
    return view


def access_of(view, method: str) -> tuple[str, ...] | None:
    """The roles that may call ``method`` on this view function, None when it has no marker.

    A MethodView carries its class-wide decorators in ``view_class.decorators`` and may
    decorate single methods; a caller must pass every marked layer.
    """
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return getattr(view, "access", None)
    layers = [d.access for d in view_class.decorators if hasattr(d, "access")]
    handler = getattr(view_class, method.lower(), None)
    if hasattr(handler, "access"):
        layers.append(handler.access)
    if not layers:
        return None
    allowed = [role for role in layers[0] if all(role in layer for layer in layers[1:])]
    if not allowed:
        raise RuntimeError(f"{view_class.__name__}.{method.lower()} admits no role at all")
    return tuple(allowed)


@grants(OPERATOR)
def operator_required(view):
    """Only the operator key from LOYALTY_ADMIN_KEY passes."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = current_app.config["LOYALTY_ADMIN_KEY"]
        if not hmac.compare_digest(bearer_token().encode(), expected.encode()):
            raise Unauthorized("This call needs the operator key.")
        return view(*args, **kwargs)

    return wrapper


@grants(MERCHANT)
def merchant_required(view):
    """A live key of an active merchant passes; its terms are in ``g.merchant``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        merchant = merchant_of_key(hash_key(bearer_token()))
        if merchant is None:
            raise Unauthorized("Unknown or revoked merchant key.")
        g.merchant = merchant
        return view(*args, **kwargs)

    return wrapper


@grants(AFFILIATE)
def affiliate_required(view):
    """A live key of an active affiliate passes; who it is is in ``g.affiliate``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        affiliate = affiliate_of_key(hash_key(bearer_token()))
        if affiliate is None:
            raise Unauthorized("Unknown or revoked affiliate key.")
        g.affiliate = affiliate
        return view(*args, **kwargs)

    return wrapper


def merchant_of_key(key_hash: str) -> MerchantTerms | None:
    """The active merchant holding this live key, if any."""
    found = db.session.execute(MERCHANT_BY_KEY, {"key_hash": key_hash}).first()
    return None if found is None else MerchantTerms(*found)


def affiliate_of_key(key_hash: str) -> AffiliateIdentity | None:
    """The active affiliate holding this live key, if any."""
    found = db.session.execute(AFFILIATE_BY_KEY, {"key_hash": key_hash}).first()
    return None if found is None else AffiliateIdentity(*found)
