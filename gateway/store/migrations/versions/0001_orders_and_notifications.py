"""orders and notifications

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("merchant_order_no", sa.String(64), nullable=False),
        sa.Column("provider_order_id", sa.String(128)),
        sa.Column("provider_account", sa.String(128)),
        sa.Column("pay_params", sa.JSON()),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("merchant_reference", sa.String(128)),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("failure_code", sa.String(64)),
        sa.Column("failure_message", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        # Notifies find their order by (provider, merchant_order_no): this unique index serves it.
        sa.UniqueConstraint("provider", "merchant_order_no", name="uq_orders_provider_reference"),
    )
    op.create_index("ix_orders_merchant_reference", "orders", ["merchant_reference"])
    op.create_table(
        "notifications",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("query_string", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(255)),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id")),
        sa.Column("event_id", sa.String(255)),
    )
    op.create_index("ix_notifications_order_id", "notifications", ["order_id"])
    op.create_index("ix_notifications_provider_event", "notifications", ["provider", "event_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("orders")
