"""The rewards boutique: catalog items, voucher codes, redemptions, member
sign-in tokens and the mail outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:30:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_outbox_recipient"), ["recipient"], unique=False)

    op.create_table(
        "sign_in_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_links")),
    )
    with op.batch_alter_table("sign_in_links", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_links_client", ["client", "created_at"], unique=False)
        batch_op.create_index("ix_sign_in_links_email", ["email", "created_at"], unique=False)

    op.create_table(
        "catalog_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("points_price", sa.BigInteger(), nullable=False),
        sa.Column("wholesale_value_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("active_from", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("active_until", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('physical', 'voucher')", name=op.f("ck_catalog_items_kind_known")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_catalog_items_stock_non_negative")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_catalog_items_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_items_category", ["category", "id"], unique=False)
        batch_op.create_index("ix_catalog_items_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "member_profiles",
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("offers_consent", sa.Boolean(), nullable=False),
        sa.Column("offers_consent_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("deleted_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_profiles_member_id_members")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_profiles")),
    )
    op.create_table(
        "redemptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("wholesale_value_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shipping_address", sa.String(length=500), nullable=False),
        sa.Column("tracking_reference", sa.String(length=120), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('placed', 'fulfilled', 'cancelled', 'expired')", name=op.f("ck_redemptions_status_known")
        ),
        sa.ForeignKeyConstraint(["hold_id"], ["ledger_holds.id"], name=op.f("fk_redemptions_hold_id_ledger_holds")),
        sa.ForeignKeyConstraint(["item_id"], ["catalog_items.id"], name=op.f("fk_redemptions_item_id_catalog_items")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_redemptions_member_id_members")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_redemptions_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
        sa.UniqueConstraint("member_id", "idempotency_key", name=op.f("uq_redemptions_member_id_idempotency_key")),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index("ix_redemptions_expiry", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_redemptions_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_redemptions_member", ["member_id", "id"], unique=False)
        batch_op.create_index("ix_redemptions_supplier", ["merchant_id", "status", "id"], unique=False)

    op.create_table(
        "voucher_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("redemption_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["catalog_items.id"], name=op.f("fk_voucher_codes_item_id_catalog_items")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_voucher_codes_merchant_id_merchants")),
        sa.ForeignKeyConstraint(
            ["redemption_id"], ["redemptions.id"], name=op.f("fk_voucher_codes_redemption_id_redemptions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_codes")),
        sa.UniqueConstraint("merchant_id", "code", name=op.f("uq_voucher_codes_merchant_id_code")),
        sa.UniqueConstraint("redemption_id", name=op.f("uq_voucher_codes_redemption_id")),
    )
    with op.batch_alter_table("voucher_codes", schema=None) as batch_op:
        batch_op.create_index("ix_voucher_codes_free", ["item_id", "redemption_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("voucher_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_voucher_codes_free")

    op.drop_table("voucher_codes")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index("ix_redemptions_supplier")
        batch_op.drop_index("ix_redemptions_member")
        batch_op.drop_index(batch_op.f("ix_redemptions_item_id"))
        batch_op.drop_index("ix_redemptions_expiry")

    op.drop_table("redemptions")
    op.drop_table("member_profiles")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_items_merchant")
        batch_op.drop_index("ix_catalog_items_category")

    op.drop_table("catalog_items")
    with op.batch_alter_table("sign_in_links", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_links_email")
        batch_op.drop_index("ix_sign_in_links_client")

    op.drop_table("sign_in_links")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_recipient"))

    op.drop_table("mail_outbox")
