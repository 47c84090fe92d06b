"""The db_session fixture: what a test writes, commits included, is gone for the next test."""

from __future__ import annotations

from sqlalchemy import select

from app.members.models import Member
from ledger.types import utcnow
from tests.factories.names import unique_email

# The email the first test writes, for the second test to look for.
WRITTEN: list[str] = []


def committed_count(engine, email: str) -> int:
    """Rows with this email that another connection can see (outside any session's transaction)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # The email is a generated uuid address; a literal keeps this independent of the driver's paramstyle.
        cursor.execute(f"SELECT count(*) FROM members WHERE email = '{email}'")
        return cursor.fetchone()[0]
    finally:
        raw.close()


def test_a_commit_inside_db_session_only_releases_a_savepoint(db_session, engine):
    email = unique_email()
    db_session.add(Member(email=email, created_at=utcnow()))
    db_session.commit()  # what a service under test does

    assert db_session.scalars(select(Member.email).where(Member.email == email)).all() == [email]
    assert committed_count(engine, email) == 0
    WRITTEN.append(email)


def test_what_the_previous_test_wrote_with_db_session_is_gone(db_session, engine):
    assert WRITTEN, "run together with test_a_commit_inside_db_session_only_releases_a_savepoint, just before"

    assert committed_count(engine, WRITTEN[0]) == 0
    assert db_session.scalars(select(Member).where(Member.email == WRITTEN[0])).all() == []


def test_a_rollback_inside_db_session_keeps_what_was_committed_before(db_session):
    kept, dropped = unique_email(), unique_email()
    db_session.add(Member(email=kept, created_at=utcnow()))
    db_session.commit()
    db_session.add(Member(email=dropped, created_at=utcnow()))
    db_session.flush()

    db_session.rollback()  # back to the savepoint, not to the start of the test

    found = db_session.scalars(select(Member.email).where(Member.email.in_([kept, dropped]))).all()
    assert found == [kept]
