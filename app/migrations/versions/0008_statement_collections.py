"""Statement collections: one row per statement with a net to collect (or not
needed), its Stripe PaymentIntent, attempts and dunning schedule; and the Stripe
webhook events already processed, each event id once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-15 10:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "statement_collections",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("statement_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_started_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_statement_collections_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.id"], name=op.f("fk_statement_collections_statement_id_statements")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_collections")),
        sa.UniqueConstraint("statement_id", name=op.f("uq_statement_collections_statement_id")),
        sa.UniqueConstraint("stripe_payment_intent_id", name=op.f("uq_statement_collections_stripe_payment_intent_id")),
    )
    op.create_index("ix_statement_collections_due", "statement_collections", ["status", "next_attempt_at"])
    op.create_table(
        "stripe_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("received_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_stripe_events_event_id")),
    )


def downgrade():
    op.drop_table("stripe_events")
    op.drop_index("ix_statement_collections_due", table_name="statement_collections")
    op.drop_table("statement_collections")
