"""The paid loyalty card: its terms (one row per version, each with its Stripe plan),
each member's subscription (Stripe customer, status, paid period, spend towards the
next voucher) and the vouchers it issued (random codes, redeemed once, or lapsed once expired).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "card_terms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("earn_multiplier_bp", sa.Integer(), nullable=False),
        sa.Column("voucher_value_cents", sa.BigInteger(), nullable=False),
        sa.Column("voucher_per_spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("stripe_plan_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_terms")),
    )
    op.create_table(
        "card_subscriptions",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("terms_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("setup_intent_id", sa.String(length=255), nullable=True),
        sa.Column("setup_intent_count", sa.Integer(), nullable=False),
        sa.Column("subscription_count", sa.Integer(), nullable=False),
        sa.Column("renews_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_card_subscriptions_member_id_members")),
        sa.ForeignKeyConstraint(
            ["terms_id"], ["card_terms.id"], name=op.f("fk_card_subscriptions_terms_id_card_terms")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_card_subscriptions")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_card_subscriptions_stripe_customer_id")),
        sa.UniqueConstraint("stripe_subscription_id", name=op.f("uq_card_subscriptions_stripe_subscription_id")),
    )
    op.create_table(
        "card_vouchers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issued_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lapsed_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("order_ref", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_card_vouchers_member_id_members")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_card_vouchers_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_card_vouchers_code")),
    )
    with op.batch_alter_table("card_vouchers", schema=None) as batch_op:
        batch_op.create_index("ix_card_vouchers_member", ["member_id", "id"], unique=False)
        batch_op.create_index("ix_card_vouchers_expiry", ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("card_vouchers", schema=None) as batch_op:
        batch_op.drop_index("ix_card_vouchers_expiry")
        batch_op.drop_index("ix_card_vouchers_member")

    op.drop_table("card_vouchers")
    op.drop_table("card_subscriptions")
    op.drop_table("card_terms")
