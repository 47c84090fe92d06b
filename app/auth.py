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


def operator_required(view):
    """Only the operator key from LOYALTY_ADMIN_KEY passes."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = current_app.config["LOYALTY_ADMIN_KEY"]
        if not hmac.compare_digest(bearer_token().encode(), expected.encode()):
            raise Unauthorized("This call needs the operator key.")
        return view(*args, **kwargs)

    return wrapper


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
