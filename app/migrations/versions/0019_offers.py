"""Offers: a message and a reward for a segment's members, their recipients (held out
or targeted, sent or skipped for want of consent, opened, clicked), and the campaign that
gives an offer's bonus (``campaigns.offer_id``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 22:35:20.538576

"""

import sqlalchemy as sa
from alembic import op

import ledger.types
from app.cache_versions import sqlite_triggers

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "offers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reward_type", sa.String(length=16), nullable=False),
        sa.Column("reward_points", sa.BigInteger(), nullable=True),
        sa.Column("reward_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("starts_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("holdout_bp", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prepared_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_offers_merchant_id_merchants")),
        sa.ForeignKeyConstraint(
            ["reward_item_id"], ["catalog_items.id"], name=op.f("fk_offers_reward_item_id_catalog_items")
        ),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_offers_segment_id_segments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index("ix_offers_due", ["prepared_at", "starts_at"], unique=False)
        batch_op.create_index("ix_offers_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "offer_recipients",
        sa.Column("offer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("sent_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("opened_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_offer_recipients_member_id_members")),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"], name=op.f("fk_offer_recipients_offer_id_offers")),
        sa.PrimaryKeyConstraint("offer_id", "member_id", name=op.f("pk_offer_recipients")),
    )
    with op.batch_alter_table("offer_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_offer_recipients_member", ["member_id", "offer_id"], unique=False)
        batch_op.create_index("ix_offer_recipients_ref", ["ref"], unique=True)
        batch_op.create_index("ix_offer_recipients_sent", ["sent_at"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer_id", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("offer_id")
    if op.get_context().dialect.name == "sqlite":  # the rebuild dropped the counter's triggers
        for statement in sqlite_triggers("campaigns"):
            op.execute(statement)

    with op.batch_alter_table("offer_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_recipients_sent")
        batch_op.drop_index("ix_offer_recipients_ref")
        batch_op.drop_index("ix_offer_recipients_member")

    op.drop_table("offer_recipients")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_merchant")
        batch_op.drop_index("ix_offers_due")

    op.drop_table("offers")
