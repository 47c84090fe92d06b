"""Schemathesis hooks for .ci/schemathesis_check.py (loaded through SCHEMATHESIS_HOOKS).

Every request, in every phase (stateful included), carries the key of the role its
route admits, read from the routes' own auth markers (app.routes_doc), so generated
calls reach the views instead of stopping at 401. The keys come from the environment.
When a generated call has revoked, rotated or deactivated the fuzzer's own merchant or
affiliate (all legitimate operator and owner calls), the next 401 makes the operator
reactivate it and issue a new key, so the rest of the run still reaches the views.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

import schemathesis

from app import create_app
from app.constants import ACTIVE_KEYS_PER_AFFILIATE_MAX, ACTIVE_KEYS_PER_MERCHANT_MAX
from app.identity.auth import PUBLIC
from app.routes_doc import api_operations

KEY_ENV = {"operator": "FUZZ_OPERATOR_KEY", "merchant": "FUZZ_MERCHANT_KEY", "affiliate": "FUZZ_AFFILIATE_KEY"}


def _roles() -> dict[tuple[str, str], str]:
    """(METHOD, OpenAPI path) -> the first role that may call it; public routes are left out."""
    # Only the routes are read; the in-memory database is never touched.
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "LEDGER_SEAL_INTERVAL_S": 0, "CLICK_FLUSH_INTERVAL_S": 0})
    found = {}
    for op in api_operations(app):
        roles = [role for role in op.access or () if role != PUBLIC]
        if roles:
            found[(op.method, op.path)] = roles[0]
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()
    return found


ROLES = _roles()
KEYS = {role: os.environ[name] for role, name in KEY_ENV.items()}
OWNERS = {
    "merchant": ("merchants", os.environ["FUZZ_MERCHANT_ID"]),
    "affiliate": ("affiliates", os.environ["FUZZ_AFFILIATE_ID"]),
}
BASE_URL = os.environ["FUZZ_BASE_URL"]
KEYS_KEPT_MAX = min(ACTIVE_KEYS_PER_MERCHANT_MAX, ACTIVE_KEYS_PER_AFFILIATE_MAX)


def _as_operator(method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE_URL}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {KEYS['operator']}")
    with urllib.request.urlopen(request, timeout=20) as answer:
        return json.loads(answer.read() or b"{}")


def _reissue(role: str) -> None:
    """The fuzzer's own merchant or affiliate active again, with a fresh key; generated
    calls may have issued the most live keys allowed, so the oldest live one goes first."""
    collection, owner_id = OWNERS[role]
    _as_operator("PATCH", f"/v1/{collection}/{owner_id}", {"active": True})
    keys = _as_operator("GET", f"/v1/{collection}/{owner_id}/api-keys?limit=200")["data"]
    live = [key["id"] for key in keys if key.get("revoked_at") is None]
    if len(live) >= KEYS_KEPT_MAX:
        _as_operator("DELETE", f"/v1/{collection}/{owner_id}/api-keys/{live[0]}")
    KEYS[role] = _as_operator("POST", f"/v1/{collection}/{owner_id}/api-keys")["api_key"]


@schemathesis.hook
def before_call(context, case, kwargs):
    role = ROLES.get((case.operation.method.upper(), case.operation.path))
    if role is not None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {KEYS[role]}"}


@schemathesis.hook
def after_call(context, case, response):
    role = ROLES.get((case.operation.method.upper(), case.operation.path))
    if response.status_code == 401 and role in OWNERS:
        try:
            _reissue(role)
        except urllib.error.HTTPError as error:  # say so: every later call of this role would be a 401
            print(f"schemathesis_hooks: no new {role} key: {error.code} {error.read()[:300]!r}", file=sys.stderr)
