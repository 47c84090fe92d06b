"""Lifecycle figures, against a hand-made history of four customers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

import ledger
from tests.conftest import ADMIN_KEY, make_app
from tests.factories.merchants import auth, create_merchant
from tests.factories.names import unique_email
from tests.factories.orders import record_order

OPERATOR = auth(ADMIN_KEY)


@pytest.fixture(scope="module")
def life_app(databases):
    application = make_app(databases.new())
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def test_lifecycle_figures_follow_their_definitions(life_app):
    from app.extensions import db

    api = life_app.test_client()
    shop, elsewhere = create_merchant(api, OPERATOR), create_merchant(api, OPERATOR)
    now = ledger.utcnow()
    # Per customer: days ago of each order here; a joined the coalition 110 days ago.
    history = {"a": [100, 80], "b": [100, 20], "c": [10], "d": [200]}
    emails = {name: unique_email() for name in history}
    placed, members = [], {}
    for name, days in history.items():
        for n, ago in enumerate(days):
            answer = record_order(api, shop["headers"], member_email=emails[name], order_id=f"{name}{n}-{ago}")
            assert answer.status_code == 201
            members[name] = int(answer.get_json()["member_id"])
            placed.append((f"{name}{n}-{ago}", now - timedelta(days=ago)))
    with life_app.app_context(), db.engine.begin() as conn:
        for order_id, at in placed:
            conn.execute(text("UPDATE orders SET created_at = :at WHERE order_id = :o"), {"at": at, "o": order_id})
        for name, days in history.items():
            joined = now - timedelta(days=110 if name == "a" else max(days))
            conn.execute(text("UPDATE members SET created_at = :at WHERE id = :m"), {"at": joined, "m": members[name]})
    # An order elsewhere changes nothing for the shop; a fully refunded order here counts nothing.
    assert record_order(api, elsewhere["headers"], member_email=emails["c"]).status_code == 201
    refunded = record_order(api, shop["headers"], member_email=unique_email(), amount_cents=2000).get_json()
    refund = {"refund_id": "all", "amount_cents": 2000}
    assert (
        api.post(f"/v1/orders/{refunded['order_id']}/refunds", json=refund, headers=shop["headers"]).status_code == 201
    )

    figures = api.get("/v1/reports/lifecycle", headers=shop["headers"]).get_json()

    assert figures["scope"] == "merchant" and figures["customers"] == 4
    assert figures["days_to_first_purchase"] == {"measured": 4, "median": 0.0, "mean": 2.5}
    assert figures["repeat_30d"] == {"eligible": 3, "repeated": 1, "rate_bp": 3333}
    assert figures["repeat_90d"] == {"eligible": 3, "repeated": 2, "rate_bp": 6666}
    assert (figures["dormant_days"], figures["dormant"], figures["active"]) == (90, 1, 3)
    tighter = api.get("/v1/reports/lifecycle?dormant_days=15", headers=shop["headers"]).get_json()
    assert (tighter["dormant"], tighter["active"]) == (3, 1)
    coalition = api.get("/v1/reports/lifecycle", headers=OPERATOR).get_json()
    assert coalition["scope"] == "coalition" and coalition["customers"] == 4  # c's order elsewhere: still 4 members
    assert api.get("/v1/reports/lifecycle?dormant_days=0", headers=shop["headers"]).status_code == 422
