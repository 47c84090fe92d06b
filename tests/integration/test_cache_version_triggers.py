"""The cache versions hold only if their triggers survive every migration: on SQLite a
migration that rebuilds a watched table drops them (app.cache_versions.sqlite_triggers)."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from app.cache_versions import SQLITE_WATCHED
from tests.conftest import BACKEND


def _triggers(url: str) -> set[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if BACKEND == "postgresql":
                rows = conn.execute(
                    text(
                        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE NOT t.tgisinternal"
                    )
                )
            else:
                rows = conn.execute(text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
            return {(table, name) for table, name in rows}
    finally:
        engine.dispose()


def test_every_watched_table_keeps_its_counter_triggers_at_head(db_url):
    found = _triggers(db_url)

    for table, (events, _name) in SQLITE_WATCHED.items():
        if BACKEND == "postgresql":
            assert (table, f"{table}_cache_version") in found, table
        else:
            for event in events:
                assert (table, f"{table}_cache_version_{event}") in found, (table, event)
