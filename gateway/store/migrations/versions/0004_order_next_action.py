"""orders.next_action and return_url: what the payer's client does next (sdk_params, QR code, redirect, mini program)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as orders:
        orders.add_column(sa.Column("next_action", sa.JSON()))
        orders.add_column(sa.Column("return_url", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("orders") as orders:
        orders.drop_column("return_url")
        orders.drop_column("next_action")
