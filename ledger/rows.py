"""Many rows in one statement, cheaply on PostgreSQL.

A multi-row ``INSERT ... VALUES`` of a thousand rows is a statement of several
thousand parameters that the driver parses anew every time. On PostgreSQL the
rows go instead as one array per column through ``unnest``: a short statement
the driver caches, one round trip, whatever the number of rows. Other
databases (SQLite) take the rows as an ``executemany``, which is in-process.
"""

from __future__ import annotations

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.orm import Session

from ledger.accounts import upsert_statement

ROWS_PER_STATEMENT_MAX = 10_000


def insert_rows(
    session: Session,
    target: Table,
    rows: list[dict],
    *,
    returning: str | None = None,
    skip_conflicts_on: list[str] | None = None,
) -> list:
    """Insert ``rows`` (dicts with the same keys) into ``target`` in one statement.

    With ``returning="id"`` (and no conflicts to skip) the new ids come back in row
    order. With ``skip_conflicts_on`` a row whose key exists is left out
    (``ON CONFLICT DO NOTHING``) and the ``returning`` values of the rows written
    come back in no particular order.
    """
    if not rows:
        return []
    if len(rows) > ROWS_PER_STATEMENT_MAX:
        raise ValueError(f"{len(rows)} rows exceed {ROWS_PER_STATEMENT_MAX} per statement")
    if returning and not skip_conflicts_on and returning != "id":
        raise ValueError("only new ids come back in row order")
    columns = list(rows[0])
    if session.get_bind().dialect.name != "postgresql" or any(isinstance(target.c[c].type, JSON) for c in columns):
        return _insert_many(session, target, rows, returning, skip_conflicts_on)
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    arrays = ", ".join(f"CAST(:c{i} AS {target.c[c].type.compile(dialect=dialect)}[])" for i, c in enumerate(columns))
    sql = (
        f"INSERT INTO {quote(target.name)} ({names}) SELECT {names} "
        f"FROM unnest({arrays}) WITH ORDINALITY AS u({names}, ordinal) ORDER BY ordinal"
    )
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in skip_conflicts_on)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(returning)}"
    result = session.execute(text(sql), {f"c{i}": [row[c] for row in rows] for i, c in enumerate(columns)})
    if not returning:
        return []
    found = list(result.scalars())
    # INSERT ... SELECT ... ORDER BY draws the ids from the sequence in that order.
    return found if skip_conflicts_on else sorted(found)


def _insert_many(
    session: Session, target: Table, rows: list[dict], returning: str | None, skip_conflicts_on: list[str] | None
) -> list:
    if skip_conflicts_on:
        stmt = upsert_statement(
            session, target, skip_conflicts_on, returning=target.c[returning] if returning else None
        )
        result = session.execute(stmt, rows)
        return list(result.scalars()) if returning else []
    if not returning:
        session.execute(insert(target), rows)
        return []
    stmt = insert(target).returning(target.c[returning], sort_by_parameter_order=True)
    return list(session.execute(stmt, rows).scalars())
