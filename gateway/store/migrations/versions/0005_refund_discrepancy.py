"""refund discrepancy: what was recorded when the provider later reported otherwise

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as refunds:
        refunds.add_column(sa.Column("discrepancy", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("refunds") as refunds:
        refunds.drop_column("discrepancy")
