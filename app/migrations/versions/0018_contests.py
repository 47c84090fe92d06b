"""Contests: a prize of boutique vouchers, an entry window and who may enter, the
seed committed to at creation, entries, and the winners with the prize redemption
each got. Redemptions gain ``prize``: a contest prize holds and spends no points, so
its ``hold_id`` is empty (a check keeps every other redemption held).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 22:36:50.525995

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("winners_count", sa.Integer(), nullable=False),
        sa.Column("entries_open_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entries_close_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("free_entry", sa.Boolean(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("seed_commitment", sa.String(length=64), nullable=False),
        sa.Column("entries_count", sa.Integer(), nullable=True),
        sa.Column("entries_hash", sa.String(length=64), nullable=True),
        sa.Column("algorithm", sa.String(length=40), nullable=True),
        sa.Column("drawn_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(segment_id IS NULL) = free_entry", name=op.f("ck_contests_one_eligibility")),
        sa.CheckConstraint("entries_open_at < entries_close_at", name=op.f("ck_contests_window_ordered")),
        sa.CheckConstraint("winners_count >= 1", name=op.f("ck_contests_winners_positive")),
        sa.ForeignKeyConstraint(["item_id"], ["catalog_items.id"], name=op.f("fk_contests_item_id_catalog_items")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_contests_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_contests_segment_id_segments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contests")),
    )
    with op.batch_alter_table("contests", schema=None) as batch_op:
        batch_op.create_index("ix_contests_owner", ["merchant_id", "id"], unique=False)
        batch_op.create_index("ix_contests_window", ["entries_close_at", "entries_open_at"], unique=False)

    op.create_table(
        "contest_entries",
        sa.Column("contest_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], name=op.f("fk_contest_entries_contest_id_contests")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_contest_entries_member_id_members")),
        sa.PrimaryKeyConstraint("contest_id", "member_id", name=op.f("pk_contest_entries")),
    )
    with op.batch_alter_table("contest_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contest_entries_member_id"), ["member_id"], unique=False)
        batch_op.create_index("ix_contest_entries_entry", ["contest_id", "entry_id"], unique=True)

    op.create_table(
        "contest_winners",
        sa.Column("contest_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("redemption_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["contest_id"], ["contests.id"], name=op.f("fk_contest_winners_contest_id_contests")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_contest_winners_member_id_members")),
        sa.ForeignKeyConstraint(
            ["redemption_id"], ["redemptions.id"], name=op.f("fk_contest_winners_redemption_id_redemptions")
        ),
        sa.PrimaryKeyConstraint("contest_id", "position", name=op.f("pk_contest_winners")),
        sa.UniqueConstraint("redemption_id", name=op.f("uq_contest_winners_redemption_id")),
    )
    with op.batch_alter_table("contest_winners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contest_winners_member_id"), ["member_id"], unique=False)

    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prize", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column(
            "hold_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.alter_column("prize", existing_type=sa.Boolean(), server_default=None)
        batch_op.create_check_constraint(
            batch_op.f("ck_redemptions_held_unless_prize"),
            "(prize AND hold_id IS NULL AND points = 0) OR (NOT prize AND hold_id IS NOT NULL)",
        )


def downgrade():
    # Prizes cannot exist without contests: their codes are freed and the rows forgotten.
    op.execute("DELETE FROM contest_winners")
    op.execute(
        "UPDATE voucher_codes SET redemption_id = NULL WHERE redemption_id IN (SELECT id FROM redemptions WHERE prize)"
    )
    op.execute("DELETE FROM redemptions WHERE prize")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_redemptions_held_unless_prize"), type_="check")
        batch_op.alter_column(
            "hold_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        )
        batch_op.drop_column("prize")

    with op.batch_alter_table("contest_winners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contest_winners_member_id"))

    op.drop_table("contest_winners")
    with op.batch_alter_table("contest_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contest_entries_member_id"))

    op.drop_table("contest_entries")
    with op.batch_alter_table("contests", schema=None) as batch_op:
        batch_op.drop_index("ix_contests_window")
        batch_op.drop_index("ix_contests_owner")

    op.drop_table("contests")
