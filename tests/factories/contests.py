"""Contests: created through the API, their entry window moved by hand (tests cannot wait)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

import ledger
from tests.factories.names import unique


def later(**delta) -> str:
    return (ledger.utcnow() + timedelta(**delta)).isoformat()


def contest_body(item_id: str, **overrides) -> dict:
    return {
        "name": unique("Spring draw"),
        "prize": {"item_id": item_id},
        "winners": 2,
        "entries_open_at": later(minutes=5),
        "entries_close_at": later(days=7),
        "eligibility": {"free_entry": True},
        **overrides,
    }


def new_contest(client, headers: dict, item_id: str, **overrides) -> dict:
    """A free-entry contest of one winner by default, its entries open now."""
    answer = client.post("/v1/contests", json=contest_body(item_id, **{"winners": 1, **overrides}), headers=headers)
    assert answer.status_code == 201, answer.get_json()
    contest = answer.get_json()
    from app.extensions import db

    with client.application.app_context():
        move_window(db.engine, contest["id"])
    return contest


def move_window(engine, contest_id: str, *, opened: bool = True, closed: bool = False) -> None:
    """Put the entry window around now (open), before it (closed) or after it (not opened)."""
    from app.contests.models import Contest

    now = ledger.utcnow()
    opens = now - timedelta(hours=2)
    closes = now - timedelta(hours=1) if closed else now + timedelta(days=1)
    if not opened:
        opens, closes = now + timedelta(hours=1), now + timedelta(days=1)
    with Session(engine) as s:
        s.execute(
            update(Contest).where(Contest.id == int(contest_id)).values(entries_open_at=opens, entries_close_at=closes)
        )
        s.commit()
