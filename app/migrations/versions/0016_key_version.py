"""The key version: a counter that every change to a key or to its owner moves, so
that each process may keep the owners of keys it has seen and still refuse a revoked
key on the very next request (it reads the counter, one row, on every request).
Triggers move it, so no code path that changes a key, a merchant or an affiliate can
forget to. On PostgreSQL also the idempotency claim: one round trip that waits for a
concurrent request with the same key, then reads its stored answer (a function, so
that the read takes its snapshot after the wait).

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01 22:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

KEYS = "keys"
# The tables whose rows a cached key owner is made of (app/identity/auth.py).
WATCHED = ("api_keys", "affiliate_keys", "merchants", "affiliates")

PG_BUMP = """
CREATE FUNCTION cache_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END $$
"""

PG_CLAIM = """
CREATE FUNCTION ledger_idempotency_claim(claim_scope varchar, claim_key varchar)
RETURNS TABLE (found_hash text, found_result text) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('idempotency:' || claim_scope || ':' || claim_key, 0));
    RETURN QUERY SELECT r.request_hash::text, r.result::text FROM ledger_idempotency r
        WHERE r.scope = claim_scope AND r.key = claim_key;
END $$
"""


def upgrade():
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.execute(sa.text("INSERT INTO cache_versions (name, version) VALUES (:name, 1)").bindparams(name=KEYS))
    if op.get_context().dialect.name == "postgresql":
        op.execute(PG_BUMP)
        op.execute(PG_CLAIM)
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_cache_version AFTER UPDATE OR DELETE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION cache_version_bump('{KEYS}')"
            )
        return
    for table in WATCHED:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_cache_version_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = '{KEYS}'; END"
            )


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_cache_version ON {table}")
        op.execute("DROP FUNCTION ledger_idempotency_claim(varchar, varchar)")
        op.execute("DROP FUNCTION cache_version_bump()")
    else:
        for table in WATCHED:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_cache_version_{event}")
    op.drop_table("cache_versions")
