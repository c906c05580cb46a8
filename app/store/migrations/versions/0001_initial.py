"""The tables as they were before migrations: sessions and session_events.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Written out in full, not taken from app/store/tables.py, so that later changes to the tables
(made by later revisions) do not change what this revision creates.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_STAMP = sa.DateTime(timezone=True)
_ID_CHECK = {
    "postgresql": "session_id ~ '^[A-Za-z0-9_.:-]{1,128}$'",
    "sqlite": "length(session_id) between 1 and 128 and session_id not glob '*[^A-Za-z0-9_.:-]*'",
}


def upgrade() -> None:
    """Create both tables, their checks and indexes."""
    dialect = op.get_bind().dialect.name
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, nullable=False, server_default="anonymous"),
        sa.Column("start_time", _STAMP, nullable=False, server_default=sa.func.now()),
        sa.Column("end_time", _STAMP),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("summary", sa.Text),
        sa.Column("metadata", _JSON, nullable=False, server_default=sa.text("'{}'")),
        sa.CheckConstraint(_ID_CHECK[dialect], name="sessions_session_id_check"),
        sa.CheckConstraint("status in ('active', 'ended')", name="sessions_status_check"),
    )
    op.create_index("sessions_user_id_start_time_idx", "sessions", ["user_id", "start_time"])
    op.create_index("sessions_start_time_idx", "sessions", ["start_time"])
    op.create_table(
        "session_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            primary_key=True,
        ),
        sa.Column(
            "session_id",
            sa.Text,
            sa.ForeignKey("sessions.session_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False, server_default=""),
        sa.Column("metadata", _JSON, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("created_at", _STAMP, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "event_type in ('user_message', 'assistant_message', 'tool_call', 'tool_result',"
            " 'error', 'session_start', 'session_end', 'summary')",
            name="session_events_event_type_check",
        ),
        sa.CheckConstraint(
            "role in ('user', 'assistant', 'tool', 'system')", name="session_events_role_check"
        ),
    )
    op.create_index("session_events_session_id_id_idx", "session_events", ["session_id", "id"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("session_events")
    op.drop_table("sessions")
