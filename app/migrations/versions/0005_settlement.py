"""Settlement: affiliate payouts (and the link from each paid commission to its
payout), merchant statements and their lines per currency.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 13:30:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "payouts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("affiliate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payout_key", sa.String(length=120), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("commission_count", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=140), nullable=True),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["affiliate_id"], ["affiliates.id"], name=op.f("fk_payouts_affiliate_id_affiliates")),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"], name=op.f("fk_payouts_entry_id_ledger_entries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("affiliate_id", "payout_key", name=op.f("uq_payouts_affiliate_id_payout_key")),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index("ix_payouts_affiliate", ["affiliate_id", "id"], unique=False)

    op.create_table(
        "statements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period_start", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_statements_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint("merchant_id", "period_end", name=op.f("uq_statements_merchant_id_period_end")),
        sa.UniqueConstraint("merchant_id", "period_start", name=op.f("uq_statements_merchant_id_period_start")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index("ix_statements_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "statement_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("statement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("points_bought_cents", sa.BigInteger(), nullable=False),
        sa.Column("commissions_cents", sa.BigInteger(), nullable=False),
        sa.Column("network_fees_cents", sa.BigInteger(), nullable=False),
        sa.Column("rewards_supplied_cents", sa.BigInteger(), nullable=False),
        sa.Column("other_cents", sa.BigInteger(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.id"], name=op.f("fk_statement_lines_statement_id_statements")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("statement_id", "currency", name=op.f("uq_statement_lines_statement_id_currency")),
    )
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch_op.create_index(batch_op.f("ix_commissions_payout_id"), ["payout_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_commissions_payout_id_payouts"), "payouts", ["payout_id"], ["id"])


def downgrade():
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_commissions_payout_id_payouts"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_commissions_payout_id"))
        batch_op.drop_column("payout_id")

    op.drop_table("statement_lines")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index("ix_statements_merchant")

    op.drop_table("statements")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_affiliate")

    op.drop_table("payouts")
