"""The transparency log: leaf hashes on the seals, the Merkle tree's complete
subtrees, the sealer's watermark and gaps, signing keys and signed tree heads;
statements and payouts name the head they were computed at.

Sealing moves from an anti-join over the whole journal to a watermark: the
watermark starts at the newest sealed entry, and one gap covering every id
below it lets the first run seal any entry still unsealed there. Seals made
before this revision get their leaf hashes when the sealer next runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("ledger_seals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leaf_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "ledger_log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed_through_entry_id", sa.BigInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_log_state")),
    )
    op.create_table(
        "ledger_seal_gaps",
        sa.Column("first_entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_entry_id", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_xid", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("first_entry_id", name=op.f("pk_ledger_seal_gaps")),
    )
    op.create_table(
        "ledger_tree_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_ledger_tree_nodes")),
    )
    op.create_table(
        "ledger_signing_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_ledger_signing_keys")),
    )
    op.create_table(
        "ledger_tree_heads",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["ledger_signing_keys.key_id"], name=op.f("fk_ledger_tree_heads_key_id_ledger_signing_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_tree_heads")),
    )
    with op.batch_alter_table("ledger_tree_heads", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_tree_heads_size", ["tree_size"], unique=False)
    for name in ("statements", "payouts"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("tree_head_id", BIG_ID, nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{name}_tree_head_id_ledger_tree_heads"), "ledger_tree_heads", ["tree_head_id"], ["id"]
            )
    op.execute(
        "INSERT INTO ledger_log_state (id, sealed_through_entry_id, tree_size) "
        "SELECT 1, COALESCE(MAX(entry_id), 0), 0 FROM ledger_seals"
    )
    op.execute(
        "INSERT INTO ledger_seal_gaps (first_entry_id, last_entry_id, seen_at, seen_xid) "
        "SELECT 1, MAX(entry_id), '1970-01-01 00:00:00', 0 FROM ledger_seals HAVING MAX(entry_id) IS NOT NULL"
    )


def downgrade():
    for name in ("payouts", "statements"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{name}_tree_head_id_ledger_tree_heads"), type_="foreignkey")
            batch_op.drop_column("tree_head_id")
    with op.batch_alter_table("ledger_tree_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_tree_heads_size")
    op.drop_table("ledger_tree_heads")
    op.drop_table("ledger_signing_keys")
    op.drop_table("ledger_tree_nodes")
    op.drop_table("ledger_seal_gaps")
    op.drop_table("ledger_log_state")
    with op.batch_alter_table("ledger_seals", schema=None) as batch_op:
        batch_op.drop_column("leaf_hash")
