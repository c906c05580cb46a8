"""Session leases, seq blocks and summary claims in PostgreSQL: what several processes agree on.

Every decision is one statement (`INSERT … ON CONFLICT … WHERE`, `UPDATE … WHERE … RETURNING`),
so two processes racing for the same row cannot both win. Times are the database's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.sql import SqlStore
from app.store.sql_errors import translated

# One statement, one round trip: the outer select sees the row as it was before the insert,
# so when the lease is not won it names the holder that kept it (or nobody, when the winner
# inserted the row meanwhile: then _HOLDER, a statement of its own, sees it). Taking a lease
# also reserves the holder's first block of seqs.
_ACQUIRE = text(
    """
    with won as (
        insert into session_leases (session_id, holder, expires_at, seq_ceiling)
        values (:sid, :me, now() + make_interval(secs => :ttl), :block)
        on conflict (session_id) do update
            set holder = excluded.holder, expires_at = excluded.expires_at,
                seq_ceiling = session_leases.seq_ceiling + :block
            where session_leases.holder is null
               or session_leases.holder = excluded.holder
               or session_leases.expires_at < now()
        returning seq_ceiling
    )
    select (select seq_ceiling from won) as ceiling,
           (select holder from session_leases where session_id = :sid) as held
    """
)
_HOLDER = text("select holder from session_leases where session_id = :sid")
_RENEW = text(
    "update session_leases set expires_at = now() + make_interval(secs => :ttl)"
    " where holder = :me returning session_id"
)
_RELEASE = text(
    "update session_leases set holder = null, expires_at = null"
    " where session_id = :sid and holder = :me"
)
_RELEASE_ALL = text("update session_leases set holder = null, expires_at = null where holder = :me")
# Active sessions that were connected (a session_start) and that no live process holds.
_ORPHANS = text(
    """
    select s.session_id from sessions s
    left join session_leases l on l.session_id = s.session_id
    where s.status = 'active'
      and (l.holder is null or l.expires_at < now())
      and exists (select 1 from session_events e
                  where e.session_id = s.session_id and e.event_type = 'session_start')
    order by s.session_id limit 500
    """
)
_RESERVE = text(
    """
    update session_leases set seq_ceiling = greatest(seq_ceiling, :floor) + :block
    where session_id = :sid returning seq_ceiling
    """
)
_CLAIM = text(
    """
    update session_leases l
    set summary_claimed_until = now() + make_interval(secs => :ttl)
    from sessions s
    where l.session_id = :sid and s.session_id = l.session_id and s.status = 'ended'
      and l.summarized_end is distinct from s.end_time
      and (l.summary_claimed_until is null or l.summary_claimed_until < now())
    returning s.end_time
    """
)
_UNSUMMARISED = text(
    """
    select s.session_id from sessions s
    join session_leases l on l.session_id = s.session_id
    where s.status = 'ended' and l.summarized_end is distinct from s.end_time
      and (l.summary_claimed_until is null or l.summary_claimed_until < now())
    order by s.session_id limit 500
    """
)
_FINISH = text(
    """
    update session_leases set summarized_end = :ended, summary_claimed_until = null
    where session_id = :sid and summarized_end is distinct from :ended
    returning session_id
    """
)
_SET_SUMMARY = text("update sessions set summary = :summary where session_id = :sid")
_SUMMARY_EVENT = text(
    """
    insert into session_events (session_id, event_type, role, content, metadata, created_at)
    values (:sid, 'summary', 'system', :summary,
            jsonb_build_object('session_end', cast(:ended_text as text)), :now)
    """
)


class LeaseStore:
    """One process's side of the shared records: its leases, seq blocks and summary claims."""

    def __init__(
        self, store: SqlStore, *, holder: str, lease_seconds: float, seq_block: int = 1000
    ) -> None:
        if store.name != "postgresql":
            raise ValueError("several processes need PostgreSQL")
        self._store = store
        self.holder = holder
        self._ttl = lease_seconds
        self._block = seq_block
        # Per session held: the ceiling of the block its acquire reserved, not handed out yet.
        self._reserved: dict[str, int] = {}

    @property
    def _engine(self) -> AsyncEngine:
        return self._store.engine

    async def acquire(self, session_id: str) -> str | None:
        """Take the session's lease if it is free, expired or ours; None, or who holds it.

        Taking it reserves a first block of `seq_block` seqs, which `reserve` hands out.
        """
        params = {"sid": session_id, "me": self.holder, "ttl": self._ttl, "block": self._block}
        with translated():
            async with self._engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                row = (await autocommit.execute(_ACQUIRE, params)).one()
                if row.ceiling is not None:
                    self._reserved[session_id] = int(row.ceiling)
                    return None
                held = row.held
                if held is None:
                    held = (await autocommit.execute(_HOLDER, params)).scalar_one_or_none()
        return str(held or "")

    async def renew(self) -> set[str]:
        """Push back the expiry of every lease this process holds; the ids it still holds."""
        with translated():
            async with self._engine.begin() as conn:
                rows = await conn.execute(_RENEW, {"me": self.holder, "ttl": self._ttl})
                return set(rows.scalars())

    async def release(self, session_id: str) -> None:
        """Let another process take the session at once."""
        self._reserved.pop(session_id, None)
        with translated():
            async with self._engine.begin() as conn:
                await conn.execute(_RELEASE, {"sid": session_id, "me": self.holder})

    async def release_all(self) -> None:
        """Free every lease this process holds (a clean shutdown)."""
        self._reserved.clear()
        with translated():
            async with self._engine.begin() as conn:
                await conn.execute(_RELEASE_ALL, {"me": self.holder})

    async def orphans(self) -> list[str]:
        """Active, connected sessions that no live process holds (their holder died, or none)."""
        with translated():
            async with self._engine.begin() as conn:
                return list((await conn.execute(_ORPHANS)).scalars())

    async def reserve(self, session_id: str, *, floor: int, block: int) -> int:
        """Reserve `block` seqs above max(floor, the last reserved); returns the first minus 1."""
        ceiling = self._reserved.pop(session_id, None)
        if ceiling is not None and block == self._block and floor <= ceiling - block:
            return ceiling - block  # the block the lease's acquire reserved
        with translated():
            async with self._engine.begin() as conn:
                params = {"sid": session_id, "floor": floor, "block": block}
                ceiling = (await conn.execute(_RESERVE, params)).scalar_one_or_none()
        if ceiling is None:
            raise LookupError(f"no lease row for session {session_id}")
        return int(ceiling) - block

    async def claim_summary(self, session_id: str, *, seconds: float) -> datetime | None:
        """Claim the summary of the session's latest end; that end's time, or None (not ours)."""
        with translated():
            async with self._engine.begin() as conn:
                params = {"sid": session_id, "ttl": seconds}
                ended: datetime | None = (await conn.execute(_CLAIM, params)).scalar_one_or_none()
                return ended

    async def unsummarised(self) -> list[str]:
        """Ended sessions whose latest end has no summary and no live claim."""
        with translated():
            async with self._engine.begin() as conn:
                return list((await conn.execute(_UNSUMMARISED)).scalars())

    async def finish_summary(self, session_id: str, *, ended: datetime, summary: str) -> bool:
        """Save the summary of the end claimed, with its `summary` event; False if one exists."""
        with translated():
            async with self._engine.begin() as conn:
                params = {"sid": session_id, "ended": ended}
                if (await conn.execute(_FINISH, params)).scalar_one_or_none() is None:
                    return False
                await conn.execute(_SET_SUMMARY, {"sid": session_id, "summary": summary})
                event = {
                    "sid": session_id,
                    "summary": summary,
                    "ended_text": ended.isoformat(),
                    "now": datetime.now(UTC),
                }
                await conn.execute(_SUMMARY_EVENT, event)
        return True
