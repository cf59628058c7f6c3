"""lists: indexes serving the order of the notification centre and of the instruction list

Revision ID: b91c4e7d2a63
Revises: e3c5d8a1b7f2
Create Date: 2026-12-01 18:35:00

/notifications lists one user's notifications, newest first, 30 a page. With only (user_id, read_at)
the page sorted all of the user's notifications (1 700 at the issue's large data set) to keep 30; with
(user_id, created_at, id) it reads them in order and stops at the page's last one.

/dossiers/instruction lists the visible dossiers, latest deposit first, 50 a page: without an index on
(submitted_at, id) each page sorted every dossier of its tab (700 for an instructeur, 1 300 for the
secretariat at the large data set); with it the dossiers are read in order until the page is full.
"""

from alembic import op

revision = "b91c4e7d2a63"
down_revision = "e3c5d8a1b7f2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_dossiers_submitted_at", "dossiers", ["submitted_at", "id"], unique=False)
    op.create_index(
        "ix_notifications_user_created", "notifications", ["user_id", "created_at", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_index("ix_dossiers_submitted_at", table_name="dossiers")
