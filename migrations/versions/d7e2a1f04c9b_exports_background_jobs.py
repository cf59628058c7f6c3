"""exports: background export jobs (export_jobs)

Revision ID: d7e2a1f04c9b
Revises: d7a2e9c41f08
Create Date: 2026-12-01 15:20:00

An XLSX/ODS export above EXPORT_JOB_ROWS rows is written by the scheduler process: one row per job, its
progress, its file (under EXPORT_DIR) and when it expires.
"""

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision = "d7e2a1f04c9b"
down_revision = "d7a2e9c41f08"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column("session_token", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("fmt", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('en_attente', 'en_cours', 'pret', 'echec')", name=op.f("ck_export_jobs_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_export_jobs_requester_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_export_jobs_state_created_at", ["state", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_jobs_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_jobs_expires_at"), ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_expires_at"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_requester_id"))
        batch_op.drop_index("ix_export_jobs_state_created_at")
    op.drop_table("export_jobs")
