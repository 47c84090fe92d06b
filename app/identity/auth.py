"""Who calls: the bearer key of a request, and the decorators that admit the
operator, a merchant or an affiliate.

A key's owner is found by the resolver its feature registered
(``register_owner``): identity knows the key tables, not the owners.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session

from app import cache_versions
from app.extensions import db
from app.identity.errors import MissingBearer, OperatorKeyRequired, UnknownKey
from app.identity.keys import KEY_LENGTH_MAX, hash_key

# Who may call a view, written on the view by the decorator that enforces it: the route
# table in docs/api.md and the refusal tests read it back from app.url_map (access_of).
OPERATOR, MERCHANT, AFFILIATE, PUBLIC = "operator", "merchant", "affiliate", "public"

# (session, key hash) -> the active owner holding this live key, or None.
OwnerResolver = Callable[[Session, str], Any]
_owners: dict[str, OwnerResolver] = {}

# Owners of live keys seen by this app (one per worker process): (kind, key hash) ->
# (key version, expiry, owner), in app.extensions.
KEY_CACHE_TTL_S = 30.0
KEY_CACHE_MAX = 10_000
_KEY_CACHE = "identity_key_cache"


def register_owner(kind: str, resolver: OwnerResolver) -> None:
    """Say how a key hash finds its ``kind`` owner (the merchants and affiliates packages do)."""
    _owners[kind] = resolver


def owner_of_key(kind: str, key_hash: str) -> Any:
    """The active ``kind`` owner holding this live key, if any.

    Owners found are kept per app (one per worker process) for up to
    ``KEY_CACHE_TTL_S``, each under the key version it was read at
    (``app.cache_versions``, moved by triggers whenever a key, a merchant or an
    affiliate row changes). Every call reads the versions, one small read in the
    request's transaction that the programme's caches share, so a key revoked or
    rotated through any process is refused here on the very next request. Only the
    owners of live keys are kept: an unknown key is looked up every time.
    """
    resolver = _owners.get(kind)
    if resolver is None:
        raise RuntimeError(f"no key resolver is registered for {kind!r} (its package registers one)")
    session = db.session
    version = cache_versions.versions(session, fresh=True)[cache_versions.KEYS]
    now_s = time.monotonic()
    known = current_app.extensions.setdefault(_KEY_CACHE, {})
    cached = known.get((kind, key_hash))
    if cached is not None and cached[0] == version and cached[1] > now_s:
        return cached[2]
    owner = resolver(session, key_hash)
    if owner is not None:
        if len(known) >= KEY_CACHE_MAX:
            known.clear()
        known[(kind, key_hash)] = (version, now_s + KEY_CACHE_TTL_S, owner)
    return owner


def bearer_token() -> str:
    """The key of the `Authorization: Bearer <key>` header; 401 without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > KEY_LENGTH_MAX:
        raise MissingBearer()
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
            raise OperatorKeyRequired()
        return view(*args, **kwargs)

    return wrapper


def _owner_required(kind: str) -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            owner = owner_of_key(kind, hash_key(bearer_token()))
            if owner is None:
                raise UnknownKey(kind)
            setattr(g, kind, owner)
            return view(*args, **kwargs)

        return wrapper

    return decorator


@grants(MERCHANT)
def merchant_required(view):
    """A live key of an active merchant passes; its terms are in ``g.merchant``."""
    return _owner_required("merchant")(view)


@grants(AFFILIATE)
def affiliate_required(view):
    """A live key of an active affiliate passes; who it is is in ``g.affiliate``."""
    return _owner_required("affiliate")(view)


def merchant_of_key(key_hash: str) -> Any:
    """The active merchant holding this live key, if any."""
    return owner_of_key("merchant", key_hash)


def affiliate_of_key(key_hash: str) -> Any:
    """The active affiliate holding this live key, if any."""
    return owner_of_key("affiliate", key_hash)


@grants(OPERATOR, MERCHANT, AFFILIATE)
def any_key_required(view):
    """The operator key, or a live key of an active merchant or affiliate, passes;
    a merchant or an affiliate is then in ``g.merchant`` or ``g.affiliate``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token()
        expected = current_app.config["LOYALTY_ADMIN_KEY"]
        if not hmac.compare_digest(token.encode(), expected.encode()):
            key_hash = hash_key(token)
            for kind in ("merchant", "affiliate"):
                owner = owner_of_key(kind, key_hash)
                if owner is not None:
                    setattr(g, kind, owner)
                    break
            else:
                raise UnknownKey("API")
        return view(*args, **kwargs)

    return wrapper


@grants(OPERATOR, MERCHANT)
def operator_or_merchant_required(view):
    """The operator key, or a live key of an active merchant (then in ``g.merchant``), passes."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token()
        if not hmac.compare_digest(token.encode(), current_app.config["LOYALTY_ADMIN_KEY"].encode()):
            merchant = merchant_of_key(hash_key(token))
            if merchant is None:
                raise UnknownKey("operator or merchant")
            g.merchant = merchant
        return view(*args, **kwargs)

    return wrapper
