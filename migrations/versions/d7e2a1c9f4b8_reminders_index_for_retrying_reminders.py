"""reminders: an index for the failures list (pending reminders already attempted)

Revision ID: d7e2a1c9f4b8
Revises: d7a9e3c1f5b2
Create Date: 2026-12-01 16:20:00

The admin page lists failed reminders and pending ones with attempts > 0, latest first. Without this
index the pending branch reads every pending reminder (20 000 at the issue's large data set) to find the
few being retried.
"""

from alembic import op

revision = "d7e2a1c9f4b8"
down_revision = "d7a9e3c1f5b2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_reminders_status_attempts", "reminders", ["status", "attempts"], unique=False)


def downgrade():
    op.drop_index("ix_reminders_status_attempts", table_name="reminders")
