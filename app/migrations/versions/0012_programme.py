"""The members' programme: incoming points (lots with ``incoming_until``), a merchant's
return window and earn-rule categories, order lines and rate groups, the extras an
order earned (``order_awards``), and coalition tiers. Merchants stop seeing members
whose orders there never earned points.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-18 10:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_WHEN = ledger.types.UTCDateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incoming_until", _WHEN, nullable=True))
        batch_op.create_index("ix_ledger_lots_incoming", ["incoming_until"])
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("points_pending_days", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("earn_excluded_categories", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("earn_category_rates", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        for name in ("points_pending_days", "earn_excluded_categories", "earn_category_rates"):
            batch_op.alter_column(name, server_default=None)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("earn_groups", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("points_available_at", _WHEN, nullable=True))
    op.create_table(
        "order_lines",
        sa.Column("order_pk", ledger.types.BigId, nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sku", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["order_pk"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_pk", "line_no"),
    )
    op.create_table(
        "order_awards",
        sa.Column("id", ledger.types.BigId, autoincrement=True, nullable=False),
        sa.Column("order_pk", ledger.types.BigId, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("funder", sa.String(length=16), nullable=False),
        sa.Column("extra_bp", sa.Integer(), nullable=True),
        sa.Column("fixed_points", sa.BigInteger(), nullable=True),
        sa.Column("points_earned", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("earn_entry_id", ledger.types.BigId, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["earn_entry_id"], ["ledger_entries.id"]),
        sa.ForeignKeyConstraint(["order_pk"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_awards_order_pk", "order_awards", ["order_pk"])
    op.create_table(
        "tiers",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("min_spend_cents", sa.BigInteger(), nullable=False),
        sa.Column("earn_multiplier_bp", sa.Integer(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "member_tiers",
        sa.Column("member_id", ledger.types.BigId, nullable=False),
        sa.Column("tier_name", sa.String(length=40), nullable=False),
        sa.Column("since", _WHEN, nullable=False),
        sa.Column("review_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index("ix_member_tiers_review_at", "member_tiers", ["review_at"])
    op.create_index("ix_orders_member_created", "orders", ["member_id", "created_at"])
    # A merchant now sees a member only once an order of its own earned points: links
    # made by orders that earned nothing (a 1-cent order, say) are withdrawn.
    op.execute(
        "DELETE FROM merchant_members WHERE NOT EXISTS (SELECT 1 FROM orders o"
        " WHERE o.merchant_id = merchant_members.merchant_id AND o.member_id = merchant_members.member_id"
        " AND o.points_earned > 0)"
    )


def downgrade():
    op.drop_index("ix_orders_member_created", table_name="orders")
    op.drop_index("ix_member_tiers_review_at", table_name="member_tiers")
    op.drop_table("member_tiers")
    op.drop_table("tiers")
    op.drop_index("ix_order_awards_order_pk", table_name="order_awards")
    op.drop_table("order_awards")
    op.drop_table("order_lines")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("points_available_at")
        batch_op.drop_column("earn_groups")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("earn_category_rates")
        batch_op.drop_column("earn_excluded_categories")
        batch_op.drop_column("points_pending_days")
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_lots_incoming")
        batch_op.drop_column("incoming_until")
