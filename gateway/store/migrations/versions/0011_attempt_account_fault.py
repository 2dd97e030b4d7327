"""order attempts say whether a not-created failure was the account's own

Only a failure of the account itself (the provider refused the gateway, or could not be reached) counts
toward the account's breaker; a refusal of one order does not. Rows from before stay NULL and are
counted as they were.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_attempts") as attempts:
        attempts.add_column(sa.Column("account_fault", sa.Boolean()))


def downgrade() -> None:
    with op.batch_alter_table("order_attempts") as attempts:
        attempts.drop_column("account_fault")
