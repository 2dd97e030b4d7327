"""merchants, their API keys and provider accounts; orders name their merchant and account

Every order stored before this belongs to the environment-configured merchant ("default") and
to its environment-configured account at the order's provider ("default-<provider>").

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    merchants = op.create_table(
        "merchants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("webhook_secret", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(merchants, [{"id": "default", "name": "default", "created_at": datetime.now(UTC)}])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("merchant_id", sa.String(36), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_keys_merchant_id", "api_keys", ["merchant_id"])
    op.create_table(
        "provider_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("merchant_id", sa.String(36), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("previous_settings", sa.Text()),
        sa.Column("previous_until", sa.DateTime(timezone=True)),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("merchant_id", "name", name="uq_provider_accounts_merchant_name"),
    )
    op.create_index("ix_provider_accounts_merchant_provider", "provider_accounts", ["merchant_id", "provider"])
    with op.batch_alter_table("orders") as orders:
        orders.add_column(sa.Column("merchant_id", sa.String(36), nullable=False, server_default="default"))
        orders.add_column(sa.Column("account_id", sa.String(64)))
        orders.create_index("ix_orders_merchant_id", ["merchant_id"])
        orders.create_index("ix_orders_account_id", ["account_id"])
    op.execute("UPDATE orders SET account_id = 'default-' || provider WHERE account_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("orders") as orders:
        orders.drop_index("ix_orders_account_id")
        orders.drop_index("ix_orders_merchant_id")
        orders.drop_column("account_id")
        orders.drop_column("merchant_id")
    op.drop_index("ix_provider_accounts_merchant_provider", table_name="provider_accounts")
    op.drop_table("provider_accounts")
    op.drop_index("ix_api_keys_merchant_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("merchants")
