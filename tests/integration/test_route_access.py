"""Every /v1 operation, read from app.url_map, refuses callers it was not written for.

Who may call an operation is the marker its auth decorator leaves on the view
(app.identity.auth.grants / public). A /v1 route without one fails here, so does a path
parameter this module cannot fill with a resource of its world: a new route cannot
slip past the refusal tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask.views import MethodView
from sqlalchemy import func, select

from app.identity.auth import AFFILIATE, MERCHANT, OPERATOR, PUBLIC
from app.routes_doc import api_operations
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.affiliates import follow, new_affiliate, new_link, new_program, token_of
from tests.factories.boutique import redeem, reward
from tests.factories.campaigns import start_campaign
from tests.factories.contests import new_contest
from tests.factories.members import member_with_points
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique
from tests.factories.orders import record_order
from tests.factories.webhooks import register_endpoint

# Collection needs the routes before any database exists; they are the same in every app.
OPERATIONS = api_operations(make_app("sqlite://"))
NO_KEY_HEADERS = {
    "none": {},
    "empty": {"Authorization": "Bearer"},
    "basic": {"Authorization": "Basic abc"},
    "unknown": auth("lk_not-a-real-key"),
}
# Operations naming another tenant's resource on purpose, and why that is allowed.
OPEN_ACROSS_TENANTS = {
    ("POST", "/v1/programs/<id:program_id>/applications"): "any affiliate may apply to any merchant's program",
    ("POST", "/v1/card-vouchers/<string:voucher_code>/redeem"): "any coalition merchant accepts a card voucher",
}
# A valid body, so a refusal cannot come from validation before the ownership check.
BODIES = {
    ("PATCH", "/v1/catalog/items/<id:item_id>"): {"title": "Changed by another merchant"},
    ("POST", "/v1/catalog/items/<id:item_id>/codes"): {"generate_codes": 1},
    ("POST", "/v1/commissions/<id:commission_id>/reject"): {"reason": "not yours"},
    ("POST", "/v1/contests/<id:contest_id>/entries"): {"member_email": "someone@example.com"},
    ("PATCH", "/v1/links/<id:link_id>"): {"active": False},
    ("POST", "/v1/orders/<string:order_id>/refunds"): {"refund_id": "r-other", "amount_cents": 100},
    ("PATCH", "/v1/programs/<id:program_id>"): {"active": False},
    ("PATCH", "/v1/programs/<id:program_id>/applications/<id:application_id>"): {"status": "refused"},
    ("POST", "/v1/redemptions/<id:redemption_id>/cancel"): {"reason": "not yours"},
    ("PATCH", "/v1/webhook-endpoints/<id:endpoint_id>"): {"enabled": False},
}
# What the owner reads to see that a refused call changed nothing, per path parameter.
WITNESSES = {
    "order_id": (MERCHANT, "/v1/orders/{order_id}"),
    "program_id": (MERCHANT, "/v1/programs/{program_id}"),
    "application_id": (MERCHANT, "/v1/programs/{program_id}/applications"),
    "commission_id": (MERCHANT, "/v1/commissions/{commission_id}"),
    "item_id": (MERCHANT, "/v1/catalog/items/{item_id}"),
    "redemption_id": (MERCHANT, "/v1/redemptions/{redemption_id}"),
    "code": (MERCHANT, "/v1/catalog/items/{voucher_item_id}"),
    "statement_id": (MERCHANT, "/v1/statements/{statement_id}"),
    "link_id": (AFFILIATE, "/v1/links/{link_id}"),
    "endpoint_id": (MERCHANT, "/v1/webhook-endpoints/{endpoint_id}"),
    "entry_id": (MERCHANT, "/v1/ledger/entries/{entry_id}/proof"),
    "payout_id": (AFFILIATE, "/v1/affiliate/payouts"),
    "campaign_id": (MERCHANT, "/v1/campaigns/{campaign_id}"),
    "segment_id": (MERCHANT, "/v1/segments/{segment_id}"),
    "offer_id": (MERCHANT, "/v1/offers/{offer_id}"),
    "contest_id": (MERCHANT, "/v1/contests/{contest_id}"),
}


def op_id(op) -> str:
    return f"{op.method} {op.path}"


def unprotected(app) -> list[tuple[str, str]]:
    return [(op.method, op.rule) for op in api_operations(app) if op.access is None]


@dataclass
class Tenants:
    """Two of each kind of key holder; A owns one of every resource a /v1 path can name."""

    operator: dict
    merchant_a: dict
    merchant_b: dict
    affiliate_a: dict
    affiliate_b: dict
    values: dict[str, str]
    affiliate_key_id: str

    def headers(self, role: str, tenant: str = "a") -> dict:
        if role == OPERATOR:
            return self.operator
        return getattr(self, f"{role}_{tenant}")["headers"]

    def path(self, op) -> str:
        """The operation's path with A's resources; fails on a parameter it cannot fill."""
        values = dict(self.values)
        if op.rule.startswith("/v1/affiliates/"):
            values["key_id"] = self.affiliate_key_id
        path = op.path
        for name in _parameters(op.rule):
            if name not in values:
                raise AssertionError(f"{op_id(op)}: no sample value for {{{name}}}; add one to the tenants world")
            path = path.replace("{" + name + "}", values[name])
        return path


def _parameters(rule: str) -> list[str]:
    """The names of a rule's variables: <id:order_id> -> order_id."""
    return [part.split(">", 1)[0].split(":")[-1] for part in rule.split("<")[1:]]


@pytest.fixture(scope="module")
def tenants(app) -> Tenants:
    from app.extensions import db

    client = app.test_client()
    operator = auth(ADMIN_KEY)
    merchant_a, merchant_b = create_merchant(client, operator), create_merchant(client, operator)
    affiliate_a, affiliate_b = new_affiliate(client, operator), new_affiliate(client, operator)

    program = new_program(client, merchant_a["headers"])
    applied = client.post(f"/v1/programs/{program['id']}/applications", headers=affiliate_a["headers"])
    assert applied.status_code == 201, applied.get_json()
    link = new_link(client, affiliate_a["headers"], program["id"])
    clicked = follow(client, link["code"])
    ordered = record_order(
        client, merchant_a["headers"], click_token=token_of(clicked.headers["Location"]), amount_cents=10_000
    )
    assert ordered.status_code == 201 and ordered.get_json()["commission"], ordered.get_json()
    commission_id = ordered.get_json()["commission"]["id"]
    approved = client.post(f"/v1/commissions/{commission_id}/approve", headers=merchant_a["headers"])
    assert approved.status_code == 200, approved.get_json()
    payout = client.post(
        f"/v1/affiliates/{affiliate_a['id']}/payouts",
        json={"payout_id": "route-access", "currency": "EUR"},
        headers=operator,
    )
    assert payout.status_code == 201, payout.get_json()

    item = reward(client, merchant_a)
    voucher = reward(client, merchant_a, kind="voucher", generate_codes=2)
    with app.app_context():
        _email, _earned, member = member_with_points(app, db.engine, client, merchant_a)
    assert redeem(member, item["id"]).status_code == 303
    redemptions = client.get("/v1/redemptions", headers=merchant_a["headers"]).get_json()["data"]
    endpoint = register_endpoint(client, merchant_a["headers"])
    assert endpoint.status_code == 201, endpoint.get_json()
    statement = client.post(
        f"/v1/merchants/{merchant_a['id']}/statements",
        json={"period_end": datetime.now(UTC).isoformat()},
        headers=operator,
    )
    assert statement.status_code == 201, statement.get_json()
    assert client.post("/v1/ledger/tree-heads", headers=operator).status_code == 201
    logged = client.get("/v1/ledger/entries?limit=1", headers=merchant_a["headers"]).get_json()["data"]
    campaign = start_campaign(client, merchant_a["headers"])
    audience = _audience_world(client, operator, merchant_a)
    contest = new_contest(client, merchant_a["headers"], voucher["id"])

    values = {
        "merchant_id": merchant_a["id"],
        "key_id": merchant_a["api_key_id"],
        "affiliate_id": affiliate_a["id"],
        "program_id": program["id"],
        "application_id": applied.get_json()["id"],
        "link_id": link["id"],
        "order_id": ordered.get_json()["order_id"],
        "commission_id": commission_id,
        "payout_id": payout.get_json()["id"],
        "item_id": item["id"],
        "voucher_item_id": voucher["id"],
        "code": voucher["generated_codes"][0],
        "redemption_id": redemptions[0]["id"],
        "endpoint_id": endpoint.get_json()["id"],
        "statement_id": statement.get_json()["id"],
        "entry_id": logged[0]["entry"]["id"],
        "campaign_id": campaign["id"],
        "voucher_code": "card-voucher-sample",
        **audience,
        "contest_id": contest["id"],
    }
    return Tenants(operator, merchant_a, merchant_b, affiliate_a, affiliate_b, values, affiliate_a["api_key_id"])


def _audience_world(client, operator: dict, merchant: dict) -> dict[str, str]:
    """An interest of the operator's list and a segment of the merchant's."""
    slug = unique("ra").lower().replace("_", "-")
    interest = client.post("/v1/interests", json={"slug": slug, "label": "Sample"}, headers=operator)
    assert interest.status_code == 201, interest.get_json()
    rules = {"name": "Regulars", "rules": {"bought": "here"}}
    segment = client.post("/v1/segments", json=rules, headers=merchant["headers"])
    assert segment.status_code == 201, segment.get_json()
    now = datetime.now(UTC)
    offer = client.post(
        "/v1/offers",
        json={
            "segment_id": segment.get_json()["id"],
            "subject": "Sample offer",
            "body": "Sample",
            "reward": {"type": "bonus", "points": 10},
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=merchant["headers"],
    )
    assert offer.status_code == 201, offer.get_json()
    return {"slug": slug, "segment_id": segment.get_json()["id"], "offer_id": offer.get_json()["id"]}


def call(client, op, path: str, headers: dict):
    body = BODIES.get((op.method, op.rule), {})
    if op.method in ("GET", "DELETE"):
        return client.open(path, method=op.method, headers=headers)
    return client.open(path, method=op.method, headers=headers, json=body)


def assert_problem(response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.get_json())
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body


def test_every_api_operation_says_who_may_call_it():
    assert OPERATIONS, "no /v1 operation found"
    assert [(op.method, op.rule) for op in OPERATIONS if op.access is None] == []


def test_the_collected_operations_are_those_of_the_app_under_test(app):
    assert [op_id(op) for op in api_operations(app)] == [op_id(op) for op in OPERATIONS]


def test_a_route_without_an_auth_marker_is_found_unprotected(db_url):
    from app.identity.auth import merchant_required, public

    application = make_app(db_url)

    @application.get("/v1/test-forgotten")
    def forgotten():
        return {}

    @application.get("/v1/test-open")
    @public
    def declared_open():
        return {}

    class Forgotten(MethodView):
        def post(self):
            return {}

    class Guarded(MethodView):
        decorators = [merchant_required]

        def get(self):
            return {}

    application.add_url_rule("/v1/test-forgotten-class", view_func=Forgotten.as_view("test_forgotten_class"))
    application.add_url_rule("/v1/test-guarded-class", view_func=Guarded.as_view("test_guarded_class"))

    assert unprotected(application) == [("GET", "/v1/test-forgotten"), ("POST", "/v1/test-forgotten-class")]
    access = {op.rule: op.access for op in api_operations(application)}
    assert access["/v1/test-open"] == (PUBLIC,)
    assert access["/v1/test-guarded-class"] == (MERCHANT,)


def test_a_route_whose_parameter_has_no_sample_value_fails_loudly(tenants):
    from app.routes_doc import Operation

    new_route = Operation("GET", "/v1/gadgets/<id:gadget_id>", "gadgets", (MERCHANT,), "")

    with pytest.raises(AssertionError, match="gadget_id"):
        tenants.path(new_route)


@pytest.mark.parametrize("headers", NO_KEY_HEADERS.values(), ids=NO_KEY_HEADERS.keys())
@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.access != (PUBLIC,)], ids=op_id)
def test_every_api_operation_refuses_a_missing_or_unknown_key(client, tenants, op, headers):
    response = call(client, op, tenants.path(op), headers)

    assert_problem(response, 401)


WRONG_ROLES = [
    (op, role)
    for op in OPERATIONS
    if op.access is not None and PUBLIC not in op.access
    for role in (OPERATOR, MERCHANT, AFFILIATE)
    if role not in op.access
]


@pytest.mark.parametrize(("op", "role"), WRONG_ROLES, ids=lambda v: v if isinstance(v, str) else op_id(v))
def test_every_api_operation_refuses_a_key_of_another_role(client, tenants, op, role):
    response = call(client, op, tenants.path(op), tenants.headers(role))

    assert_problem(response, 401, 403)


OTHER_TENANT = [
    (op, role)
    for op in OPERATIONS
    if _parameters(op.rule) and (op.method, op.rule) not in OPEN_ACROSS_TENANTS
    for role in op.access or ()
    if role in (MERCHANT, AFFILIATE)
]


# The sealer runs after any write request, a refused one too, and seals whatever
# committed before it: its own bookkeeping may change while the business data does not.
SEALER_TABLES = {
    "ledger_seals",
    "ledger_seal_gaps",
    "ledger_tree_nodes",
    "ledger_tree_heads",
    "ledger_log_state",
    "ledger_signing_keys",
}


def row_counts(app) -> dict[str, int]:
    from app.extensions import db

    with app.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
            if table.name not in SEALER_TABLES
        }
        db.session.remove()
    return counts


def witnessed(client, tenants, op) -> dict[str, object]:
    seen = {}
    for name in _parameters(op.rule):
        if name not in WITNESSES:
            raise AssertionError(f"{op_id(op)}: no witness for {{{name}}}; add one to WITNESSES")
        role, template = WITNESSES[name]
        path = template.format(**tenants.values)
        answer = client.get(path, headers=tenants.headers(role))
        assert answer.status_code == 200, (path, answer.get_json())
        seen[path] = answer.get_json()
    return seen


@pytest.mark.parametrize(("op", "role"), OTHER_TENANT, ids=lambda v: v if isinstance(v, str) else op_id(v))
def test_another_tenants_key_finds_nothing_and_changes_nothing(app, client, tenants, op, role):
    before, rows_before = witnessed(client, tenants, op), row_counts(app)

    response = call(client, op, tenants.path(op), tenants.headers(role, "b"))

    assert_problem(response, 404, 403)
    assert row_counts(app) == rows_before
    assert witnessed(client, tenants, op) == before
