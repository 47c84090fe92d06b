"""Merchant billing: each merchant's Stripe customer, its latest SetupIntent and
the default payment method it saved for off-session charges.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "merchant_billing",
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("setup_intent_id", sa.String(length=255), nullable=True),
        sa.Column("setup_intent_count", sa.Integer(), nullable=False),
        sa.Column("default_payment_method_id", sa.String(length=255), nullable=True),
        sa.Column("payment_method_kind", sa.String(length=40), nullable=True),
        sa.Column("payment_method_last4", sa.String(length=4), nullable=True),
        sa.Column("payment_method_brand", sa.String(length=40), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_billing_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_billing")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_merchant_billing_stripe_customer_id")),
    )


def downgrade():
    op.drop_table("merchant_billing")
