"""orders: indexes for the console's order list (newest first, keyset pages) and its paid-after-expiry view

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_created_at_id", "orders", ["created_at", "id"])
    # Partial: a handful of rows, not one entry per order.
    paid_late = sa.text("paid_after_expiry")
    op.create_index(
        "ix_orders_paid_after_expiry",
        "orders",
        ["created_at", "id"],
        postgresql_where=paid_late,
        sqlite_where=sa.text("paid_after_expiry = 1"),  # as SQLAlchemy writes the condition there
    )


def downgrade() -> None:
    op.drop_index("ix_orders_paid_after_expiry", "orders")
    op.drop_index("ix_orders_created_at_id", "orders")
