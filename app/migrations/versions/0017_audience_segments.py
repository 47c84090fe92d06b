"""Know the members, with their consent: the coalition's interests and what members
declared, consent per purpose with every change kept, mail headers (List-Unsubscribe)
and HTML parts, and segments with the job that keeps their members current
(``member_facts`` summarizes orders per member; filled here from the orders so far).
The single "offers" choice of member profiles becomes consent to both purposes it
covered (offers from shops the member bought from and from other shops), with its time.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 22:20:00.428677

"""

import sqlalchemy as sa
from alembic import op

import ledger.types
from app.cache_versions import sqlite_triggers

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "interests",
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_interests")),
    )
    op.create_table(
        "segment_job_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ran_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pass_until", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("member_cursor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_job_state")),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_consent_events_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_member", ["member_id", "id"], unique=False)

    op.create_table(
        "consents",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_consents_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", "purpose", name=op.f("pk_consents")),
    )
    op.create_table(
        "member_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_changes_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_changes")),
    )
    with op.batch_alter_table("member_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_changes_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_member_changes_member_id"), ["member_id"], unique=False)

    op.create_table(
        "member_facts",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("first_order_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_order_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_facts_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", "merchant_id", name=op.f("pk_member_facts")),
    )
    with op.batch_alter_table("member_facts", schema=None) as batch_op:
        batch_op.create_index("ix_member_facts_first", ["merchant_id", "first_order_at"], unique=False)
        batch_op.create_index("ix_member_facts_last", ["merchant_id", "last_order_at"], unique=False)

    op.create_table(
        "member_interests",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_interests_member_id_members")),
        sa.ForeignKeyConstraint(["slug"], ["interests.slug"], name=op.f("fk_member_interests_slug_interests")),
        sa.PrimaryKeyConstraint("member_id", "slug", name=op.f("pk_member_interests")),
    )
    with op.batch_alter_table("member_interests", schema=None) as batch_op:
        batch_op.create_index("ix_member_interests_slug", ["slug", "member_id"], unique=False)

    op.create_table(
        "segments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("size_customers", sa.BigInteger(), nullable=False),
        sa.Column("size_others", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_segments_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.create_index("ix_segments_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "segment_members",
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer", sa.Boolean(), nullable=False),
        sa.Column("since", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_segment_members_member_id_members")),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_segment_members_segment_id_segments")),
        sa.PrimaryKeyConstraint("segment_id", "member_id", name=op.f("pk_segment_members")),
    )
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.create_index("ix_segment_members_member", ["member_id"], unique=False)

    op.create_table(
        "segment_sizes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("computed_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("size_customers", sa.BigInteger(), nullable=False),
        sa.Column("size_others", sa.BigInteger(), nullable=False),
        sa.Column("joined", sa.BigInteger(), nullable=False),
        sa.Column("left", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_segment_sizes_segment_id_segments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_sizes")),
    )
    with op.batch_alter_table("segment_sizes", schema=None) as batch_op:
        batch_op.create_index("ix_segment_sizes_segment", ["segment_id", "id"], unique=False)

    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=True))

    _carry_offers_consent()
    with op.batch_alter_table("member_profiles", schema=None) as batch_op:
        batch_op.drop_column("offers_consent")
        batch_op.drop_column("offers_consent_at")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_created", ["created_at"], unique=False)

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("segment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_foreign_key(batch_op.f("fk_campaigns_segment_id_segments"), "segments", ["segment_id"], ["id"])
    _restore_campaign_triggers()

    _fill_member_facts()


_NOW = "CURRENT_TIMESTAMP"


def _restore_campaign_triggers():
    """On SQLite a batch rebuild of ``campaigns`` drops its triggers: put back the ones
    0016 made (a new campaign moves the ``campaigns`` cache version)."""
    if op.get_context().dialect.name == "sqlite":
        for statement in sqlite_triggers("campaigns"):
            op.execute(statement)


def _carry_offers_consent():
    for purpose in ("merchants", "coalition"):
        op.execute(
            "INSERT INTO consents (member_id, purpose, granted, changed_at) "
            f"SELECT member_id, '{purpose}', true, COALESCE(offers_consent_at, {_NOW}) "
            "FROM member_profiles WHERE offers_consent AND deleted_at IS NULL"
        )
        op.execute(
            "INSERT INTO consent_events (member_id, purpose, granted, at, source) "
            f"SELECT member_id, '{purpose}', true, COALESCE(offers_consent_at, {_NOW}), 'earlier-choice' "
            "FROM member_profiles WHERE offers_consent AND deleted_at IS NULL"
        )


def _fill_member_facts():
    """The same summary the job computes (app.segments.rules.refresh_facts)."""
    live = "amount_cents > refunded_cents"
    op.execute(
        "INSERT INTO member_facts (member_id, merchant_id, orders, spend_cents, first_order_at, last_order_at) "
        "SELECT member_id, merchant_id, COUNT(*), SUM(amount_cents - refunded_cents), MIN(created_at), MAX(created_at) "
        f"FROM orders WHERE {live} GROUP BY member_id, merchant_id"
    )
    op.execute(
        "INSERT INTO member_facts (member_id, merchant_id, orders, spend_cents, first_order_at, last_order_at) "
        "SELECT member_id, 0, COUNT(*), "
        "COALESCE(SUM(CASE WHEN currency = 'EUR' THEN amount_cents - refunded_cents ELSE 0 END), 0), "
        f"MIN(created_at), MAX(created_at) FROM orders WHERE {live} GROUP BY member_id"
    )
    op.execute(f"INSERT INTO segment_job_state (id, ran_at, pass_until, member_cursor) VALUES (1, {_NOW}, NULL, 0)")


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_segment_id_segments"), type_="foreignkey")
        batch_op.drop_column("segment_id")
    _restore_campaign_triggers()
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_created_at"))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_created")

    with op.batch_alter_table("member_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offers_consent_at", ledger.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("offers_consent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE member_profiles SET offers_consent = true, offers_consent_at = ("
        "SELECT changed_at FROM consents WHERE consents.member_id = member_profiles.member_id "
        "AND purpose = 'merchants' AND granted) WHERE member_id IN ("
        "SELECT member_id FROM consents WHERE purpose = 'merchants' AND granted)"
    )

    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_column("html")
        batch_op.drop_column("headers")

    with op.batch_alter_table("segment_sizes", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_sizes_segment")

    op.drop_table("segment_sizes")
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_members_member")

    op.drop_table("segment_members")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_index("ix_segments_merchant")

    op.drop_table("segments")
    with op.batch_alter_table("member_interests", schema=None) as batch_op:
        batch_op.drop_index("ix_member_interests_slug")

    op.drop_table("member_interests")
    with op.batch_alter_table("member_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_member_facts_last")
        batch_op.drop_index("ix_member_facts_first")

    op.drop_table("member_facts")
    with op.batch_alter_table("member_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_changes_member_id"))
        batch_op.drop_index(batch_op.f("ix_member_changes_at"))

    op.drop_table("member_changes")
    op.drop_table("consents")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_member")

    op.drop_table("consent_events")
    op.drop_table("segment_job_state")
    op.drop_table("interests")
