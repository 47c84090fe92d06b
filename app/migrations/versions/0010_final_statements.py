"""Final statements: when a merchant left the coalition (merchants.deactivated_at),
and on statements whether one is the merchant's final statement and the points
it still had outstanding then (their value, and the part backed by money
collected).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:00:00

"""

import sqlalchemy as sa
from alembic import op

import ledger.types

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("deactivated_at", ledger.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("final", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("liability_points_outstanding", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("liability_value_cents", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("liability_collected_cents", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("statements") as batch:
        batch.drop_column("liability_collected_cents")
        batch.drop_column("liability_value_cents")
        batch.drop_column("liability_points_outstanding")
        batch.drop_column("final")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("deactivated_at")
