"""routing rules per merchant, order attempts, and the merchant's configuration version

`merchants.config_version` moves with every change to a merchant's accounts or rules, so that each
process can keep both cached and check them with one primary-key read per order.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as merchants:
        merchants.add_column(sa.Column("config_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "routing_rules",
        sa.Column("merchant_id", sa.String(36), sa.ForeignKey("merchants.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("orders") as orders:
        orders.add_column(sa.Column("routing_rule", sa.String(80)))
        orders.add_column(sa.Column("routing_version", sa.Integer()))
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "order_attempts",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("merchant_order_no", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("message", sa.Text()),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surplus_amount", sa.BigInteger()),
        sa.Column("surplus_paid_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_order_attempts_order_id", "order_attempts", ["order_id"])
    op.create_index("ix_order_attempts_provider_reference", "order_attempts", ["provider", "merchant_order_no"])


def downgrade() -> None:
    op.drop_index("ix_order_attempts_provider_reference", table_name="order_attempts")
    op.drop_index("ix_order_attempts_order_id", table_name="order_attempts")
    op.drop_table("order_attempts")
    with op.batch_alter_table("orders") as orders:
        orders.drop_column("routing_version")
        orders.drop_column("routing_rule")
    op.drop_table("routing_rules")
    with op.batch_alter_table("merchants") as merchants:
        merchants.drop_column("config_version")
