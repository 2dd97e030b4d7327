"""operations: provider calls, webhook deliveries, console audit trail; outbox events name their order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "provider_calls",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("message", sa.Text()),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("merchant_order_no", sa.String(64)),
        sa.Column("refund_id", sa.String(36)),
        sa.Column("request_id", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_provider_calls_merchant_order_no", "provider_calls", ["merchant_order_no"])
    op.create_index("ix_provider_calls_refund_id", "provider_calls", ["refund_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.String(255), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])

    op.create_table(
        "console_actions",
        sa.Column("id", _big_id, primary_key=True, autoincrement=True),
        sa.Column("admin", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(36)),
        sa.Column("refund_id", sa.String(36)),
        sa.Column("event_id", sa.String(40)),
        sa.Column("note", sa.Text()),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_actions_order_id", "console_actions", ["order_id"])

    with op.batch_alter_table("outbox_events") as outbox:
        outbox.add_column(sa.Column("order_id", sa.String(36)))
    op.create_index("ix_outbox_events_order_id", "outbox_events", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_events_order_id", "outbox_events")
    with op.batch_alter_table("outbox_events") as outbox:
        outbox.drop_column("order_id")
    op.drop_table("console_actions")
    op.drop_table("webhook_deliveries")
    op.drop_table("provider_calls")
