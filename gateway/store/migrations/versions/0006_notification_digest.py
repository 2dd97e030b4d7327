"""notifications: digest and size of each request, so a rejected one need not be stored whole

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as notifications:
        notifications.add_column(sa.Column("body_digest", sa.String(64)))
        notifications.add_column(sa.Column("request_size", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as notifications:
        notifications.drop_column("request_size")
        notifications.drop_column("body_digest")
