"""Scheduled payouts: how each affiliate and merchant is paid (a Stripe Connect
account or a bank account), and payouts that are made by the ``payouts`` job to
affiliates or to merchants owed by a statement, pending until Stripe or the bank
transfer has paid them. Payouts recorded before this revision were paid by hand:
they become ``paid`` by the ``manual`` method.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-16 10:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "payout_methods",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("affiliate_id", _ID, nullable=True),
        sa.Column("merchant_id", _ID, nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("stripe_account", sa.String(length=255), nullable=True),
        sa.Column("iban", sa.String(length=34), nullable=True),
        sa.Column("holder_name", sa.String(length=140), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(affiliate_id IS NULL) <> (merchant_id IS NULL)", name=op.f("ck_payout_methods_one_payee")),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["affiliates.id"], name=op.f("fk_payout_methods_affiliate_id_affiliates")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payout_methods_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_methods")),
        sa.UniqueConstraint("affiliate_id", name=op.f("uq_payout_methods_affiliate_id")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_payout_methods_merchant_id")),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.alter_column("affiliate_id", existing_type=_ID, nullable=True)
        batch_op.alter_column("entry_id", existing_type=_ID, nullable=True)
        batch_op.alter_column("request_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("merchant_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("statement_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="paid"))
        batch_op.add_column(sa.Column("method", sa.String(length=20), nullable=False, server_default="manual"))
        batch_op.add_column(sa.Column("destination", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("holder_name", sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column("stripe_transfer_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("attempt_started_at", ledger.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("paid_at", ledger.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_payouts_merchant_id_merchants"), "merchants", ["merchant_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_payouts_statement_id_statements"), "statements", ["statement_id"], ["id"]
        )
        batch_op.create_index("ix_payouts_statement", ["statement_id"])
        batch_op.create_unique_constraint(batch_op.f("uq_payouts_stripe_transfer_id"), ["stripe_transfer_id"])
        batch_op.create_check_constraint(
            batch_op.f("ck_payouts_one_payee"), "(affiliate_id IS NULL) <> (merchant_id IS NULL)"
        )
        batch_op.create_index("ix_payouts_status", ["status", "method", "id"])
        batch_op.create_index("ix_payouts_merchant", ["merchant_id", "id"])
    op.execute("UPDATE payouts SET paid_at = created_at")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=20), server_default=None)
        batch_op.alter_column("method", existing_type=sa.String(length=20), server_default=None)


def downgrade():
    # Only payouts of the shape 0005 knows survive: paid affiliate payouts with their entry.
    op.execute(
        "UPDATE commissions SET payout_id = NULL WHERE payout_id IN "
        "(SELECT id FROM payouts WHERE affiliate_id IS NULL OR entry_id IS NULL)"
    )
    op.execute("DELETE FROM payouts WHERE affiliate_id IS NULL OR entry_id IS NULL")
    op.execute("UPDATE payouts SET request_hash = '' WHERE request_hash IS NULL")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_merchant")
        batch_op.drop_index("ix_payouts_status")
        batch_op.drop_constraint(batch_op.f("ck_payouts_one_payee"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_payouts_stripe_transfer_id"), type_="unique")
        batch_op.drop_index("ix_payouts_statement")
        batch_op.drop_constraint(batch_op.f("fk_payouts_statement_id_statements"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_payouts_merchant_id_merchants"), type_="foreignkey")
        for column in (
            "paid_at",
            "last_error",
            "attempt_started_at",
            "stripe_transfer_id",
            "holder_name",
            "destination",
            "method",
            "status",
            "statement_id",
            "merchant_id",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("request_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("entry_id", existing_type=_ID, nullable=False)
        batch_op.alter_column("affiliate_id", existing_type=_ID, nullable=False)
    op.drop_table("payout_methods")
