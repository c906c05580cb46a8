"""The event type `context_summary`: a long conversation's oldest turns folded for the model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The event type check is dropped and made again with the new type; SQLite cannot alter a
constraint in place, so there the table is copied (batch mode), its rows kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "session_events_event_type_check"
_BEFORE = (
    "'user_message', 'assistant_message', 'tool_call', 'tool_result',"
    " 'error', 'session_start', 'session_end', 'summary'"
)
_AFTER = f"{_BEFORE}, 'context_summary'"


def upgrade() -> None:
    """Allow `context_summary` events."""
    _replace_check(f"event_type in ({_AFTER})")


def downgrade() -> None:
    """Remove the context summaries, then the type."""
    op.execute("delete from session_events where event_type = 'context_summary'")
    _replace_check(f"event_type in ({_BEFORE})")


def _replace_check(condition: str) -> None:
    with op.batch_alter_table("session_events") as batch:
        batch.drop_constraint(_NAME, type_="check")
        batch.create_check_constraint(_NAME, condition)
