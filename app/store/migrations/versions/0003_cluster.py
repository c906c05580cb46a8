"""Several processes: session leases, seq blocks and summary claims (table session_leases).

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-02

One row per session that a process of a several-process service (REDIS_URL) has held: who
holds it and until when, the highest seq reserved for it, and which end of the session has
its summary (or is claimed). No foreign key: a process takes the lease before it creates the
session's row. Written out in full, as 0001 is.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
# 0002 (issue 13's context summary) is not merged yet: the lead re-chains this to "0002".
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create session_leases and its holder index."""
    op.create_table(
        "session_leases",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text),
        sa.Column("expires_at", _STAMP),
        sa.Column("seq_ceiling", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("summarized_end", _STAMP),
        sa.Column("summary_claimed_until", _STAMP),
    )
    op.create_index("session_leases_holder_idx", "session_leases", ["holder"])


def downgrade() -> None:
    """Drop session_leases."""
    op.drop_index("session_leases_holder_idx", table_name="session_leases")
    op.drop_table("session_leases")
