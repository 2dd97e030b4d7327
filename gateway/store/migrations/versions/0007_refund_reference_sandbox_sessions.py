"""refunds.reference (unique per order), orders.sandbox, console_sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refunds") as refunds:
        refunds.add_column(sa.Column("reference", sa.String(255)))
        refunds.create_unique_constraint("uq_refunds_order_reference", ["order_id", "reference"])
    with op.batch_alter_table("orders") as orders:
        orders.add_column(sa.Column("sandbox", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "console_sessions",
        sa.Column("token_digest", sa.String(64), primary_key=True),
        sa.Column("admin", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_expires_at", table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("orders") as orders:
        orders.drop_column("sandbox")
    with op.batch_alter_table("refunds") as refunds:
        refunds.drop_constraint("uq_refunds_order_reference", type_="unique")
        refunds.drop_column("reference")
