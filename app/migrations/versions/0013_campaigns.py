"""Campaigns: extra points on matching orders (a multiplier or a fixed bonus), run by
a merchant or by the operator, within a hard budget of points.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("starts_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("effect_type", sa.String(length=16), nullable=False),
        sa.Column("factor_bp", sa.Integer(), nullable=True),
        sa.Column("bonus_points", sa.Integer(), nullable=True),
        sa.Column("first_order", sa.Boolean(), nullable=True),
        sa.Column("min_amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("budget_points", sa.BigInteger(), nullable=False),
        sa.Column("points_awarded", sa.BigInteger(), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paused_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("effect_type IN ('multiplier', 'bonus')", name=op.f("ck_campaigns_effect_type_known")),
        sa.CheckConstraint(
            "(effect_type = 'multiplier' AND factor_bp IS NOT NULL AND bonus_points IS NULL)"
            " OR (effect_type = 'bonus' AND bonus_points IS NOT NULL AND factor_bp IS NULL)",
            name=op.f("ck_campaigns_effect_complete"),
        ),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_campaigns_window_ordered")),
        sa.CheckConstraint(
            "points_awarded >= 0 AND points_awarded <= budget_points", name=op.f("ck_campaigns_within_budget")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_campaigns_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_merchant", ["merchant_id", "id"], unique=False)
        batch_op.create_index("ix_campaigns_ends_at", ["ends_at"], unique=False)


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_ends_at")
        batch_op.drop_index("ix_campaigns_merchant")
    op.drop_table("campaigns")
