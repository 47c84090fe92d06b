"""The demo's keys stay the same from one start to the next: a new demo database keeps
the keys the guide told the newcomer to export."""

from __future__ import annotations

import re

from app.extensions import db
from tests.conftest import make_app
from tests.factories.merchants import auth

KEY_LINE = re.compile(r"^\s*(Merchant key \(.+\)|Affiliate key \(.+\)):\s+(lk_\S+)$", re.MULTILINE)


def seeded_keys(databases) -> tuple[dict[str, str], object]:
    app = make_app(databases.new())
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return dict(KEY_LINE.findall(result.output)), app


def test_the_demo_prints_the_same_working_keys_at_every_start(databases):
    first, first_app = seeded_keys(databases)
    again, app = seeded_keys(databases)

    assert len(first) == 3 and first == again
    for label, key in again.items():
        route = "/v1/affiliate/report" if label.startswith("Affiliate") else "/v1/members"
        assert app.test_client().get(route, headers=auth(key)).status_code == 200, label
    for made in (first_app, app):
        with made.app_context():
            db.engine.dispose()
