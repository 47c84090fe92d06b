"""Cache versions: counters that changes to keys and their owners, tiers, campaigns
and card subscriptions move, so that each process may keep what it read of them and
still see a change on the very next request (a request reads the counters, one small
read). Triggers move them, so no code path that changes those rows can forget to. On PostgreSQL also the idempotency claim: one round trip that waits for a
concurrent request with the same key, then reads its stored answer (a function, so
that the read takes its snapshot after the wait).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 22:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# (table, the changes that move the counter, the counter): app/cache_versions.py says
# what each cached copy is made of. Inserting a key or an owner moves nothing (only
# owners of live keys are kept); campaigns and subscriptions count only as existing
# or not, so their frequent updates (budgets spent, spend towards a voucher) do not.
WATCHED = (
    ("api_keys", ("UPDATE", "DELETE"), "keys"),
    ("affiliate_keys", ("UPDATE", "DELETE"), "keys"),
    ("merchants", ("UPDATE", "DELETE"), "keys"),
    ("affiliates", ("UPDATE", "DELETE"), "keys"),
    ("tiers", ("INSERT", "UPDATE", "DELETE"), "tiers"),
    ("campaigns", ("INSERT", "DELETE"), "campaigns"),
    ("card_subscriptions", ("INSERT", "DELETE"), "card"),
)
NAMES = ("keys", "tiers", "campaigns", "card")

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
    for name in NAMES:
        op.execute(sa.text("INSERT INTO cache_versions (name, version) VALUES (:name, 1)").bindparams(name=name))
    if op.get_context().dialect.name == "postgresql":
        op.execute(PG_BUMP)
        op.execute(PG_CLAIM)
        for table, events, name in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_cache_version AFTER {' OR '.join(events)} ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION cache_version_bump('{name}')"
            )
        return
    for table, events, name in WATCHED:
        for event in events:
            op.execute(
                f"CREATE TRIGGER {table}_cache_version_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = '{name}'; END"
            )


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        for table, _events, _name in WATCHED:
            op.execute(f"DROP TRIGGER {table}_cache_version ON {table}")
        op.execute("DROP FUNCTION ledger_idempotency_claim(varchar, varchar)")
        op.execute("DROP FUNCTION cache_version_bump()")
    else:
        for table, events, _name in WATCHED:
            for event in events:
                op.execute(f"DROP TRIGGER {table}_cache_version_{event.lower()}")
    op.drop_table("cache_versions")
