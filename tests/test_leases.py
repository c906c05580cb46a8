"""Leases, seq blocks, summary claims (PostgreSQL) and the Redis log, raced on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis

from app.bus.redis import SEQ_BLOCK, RedisLog
from app.chat.events import AssistantDelta, UserMessageEcho
from app.store.leases import LeaseStore
from app.store.sql import SqlStore
from tests.cluster_processes import REDIS_URL, drop_prefix, require_redis, unique_prefix
from tests.conftest import make_settings


@pytest.fixture
async def sql(fresh_pg_url: str) -> AsyncIterator[SqlStore]:
    """An opened SQL store on an empty PostgreSQL database."""
    store = SqlStore(make_settings(database_url=fresh_pg_url).sql_url, pool_size=5)
    await store.open()
    yield store
    await store.close()


def _leases(store: SqlStore, holder: str, seconds: float = 30) -> LeaseStore:
    return LeaseStore(store, holder=holder, lease_seconds=seconds)


async def test_of_many_processes_racing_for_a_lease_exactly_one_gets_it(sql: SqlStore) -> None:
    for round_number in range(5):
        racers = [_leases(sql, f"p{i}") for i in range(8)]
        won = await asyncio.gather(*(r.acquire(f"race-{round_number}") for r in racers))
        winners = [r.holder for r, holder in zip(racers, won, strict=True) if holder is None]
        assert len(winners) == 1
        assert {holder for holder in won if holder is not None} == set(winners)


async def test_a_lease_is_renewed_released_and_taken_once_expired(sql: SqlStore) -> None:
    first, second = _leases(sql, "first", seconds=1), _leases(sql, "second", seconds=1)
    assert await first.acquire("s") is None
    assert await second.acquire("s") == "first"
    assert await first.renew() == {"s"}
    await first.release("s")
    assert await second.acquire("s") is None
    assert await first.acquire("s") == "second"
    # Nobody renews: after a second the lease is anyone's.
    await asyncio.sleep(1.1)
    assert await first.acquire("s") is None
    assert await second.renew() == set()


async def test_seq_blocks_never_overlap_across_processes_and_floors(sql: SqlStore) -> None:
    one, two = _leases(sql, "one"), _leases(sql, "two")
    await one.acquire("s")
    starts = await asyncio.gather(
        *(lease.reserve("s", floor=5, block=100) for lease in (one, two) * 5)
    )
    # Above the block of 1,000 that taking the lease reserved.
    assert sorted(starts) == [1000 + 100 * i for i in range(10)]
    assert await one.reserve("s", floor=10_000, block=100) == 10_000


async def test_taking_a_lease_reserves_the_first_block_in_the_same_statement(
    sql: SqlStore,
) -> None:
    one, two = _leases(sql, "one"), _leases(sql, "two")
    await one.acquire("t")
    await one.reserve("t", floor=0, block=1000)  # the block taken with the lease
    await one.release("t")
    await two.acquire("t")
    # The next holder's block starts above the first one, with no statement of its own.
    assert await two.reserve("t", floor=0, block=1000) == 1000
    # A floor above the block (seqs given out past it, a crash gap) reserves past the floor.
    await two.release("t")
    await one.acquire("t")
    assert await one.reserve("t", floor=5000, block=1000) == 5000


async def test_of_many_claims_of_one_end_exactly_one_summary_is_written(sql: SqlStore) -> None:
    session = await sql.create_session(session_id="claimed", user_id="u")
    lease = _leases(sql, "holder")
    await lease.acquire(session.session_id)
    await sql.end_session(session.session_id, end_time=datetime.now(UTC))
    claimers = [_leases(sql, f"c{i}") for i in range(10)]
    claims = await asyncio.gather(*(c.claim_summary("claimed", seconds=60) for c in claimers))
    ended = [claim for claim in claims if claim is not None]
    assert len(ended) == 1
    finishes = await asyncio.gather(
        *(c.finish_summary("claimed", ended=ended[0], summary=f"by {c.holder}") for c in claimers)
    )
    assert finishes.count(True) == 1
    events = await sql.list_events("claimed")
    assert [e.event_type for e in events] == ["summary"]
    assert await lease.claim_summary("claimed", seconds=60) is None
    assert await lease.unsummarised() == []
    # A second end (after a resume) gets its own summary.
    await sql.reopen_session("claimed")
    await sql.end_session("claimed", end_time=datetime.now(UTC))
    assert await lease.unsummarised() == ["claimed"]
    second = await lease.claim_summary("claimed", seconds=60)
    assert second is not None and second > ended[0]


async def test_a_claim_left_by_a_dead_process_is_taken_again(sql: SqlStore) -> None:
    await sql.create_session(session_id="left", user_id="u")
    lease = _leases(sql, "holder")
    await lease.acquire("left")
    await sql.end_session("left", end_time=datetime.now(UTC))
    assert await lease.claim_summary("left", seconds=0.5) is not None
    assert await lease.unsummarised() == []
    await asyncio.sleep(0.6)
    assert await lease.unsummarised() == ["left"]
    assert await lease.claim_summary("left", seconds=60) is not None


async def test_the_redis_log_numbers_from_blocks_and_keeps_a_bounded_expiring_stream(
    sql: SqlStore,
) -> None:
    await require_redis()
    prefix = unique_prefix()
    client = redis.Redis.from_url(REDIS_URL)
    lease = _leases(sql, "log")
    await lease.acquire("s")

    async def reserve(session_id: str, floor: int, block: int) -> int:
        return await lease.reserve(session_id, floor=floor, block=block)

    log = RedisLog(client, prefix=prefix, reserve=reserve, replay_seconds=60, max_frames=100)
    try:
        assert await log.open("s", floor=0) == 0  # the block taken with the lease
        echo = await log.append("s", UserMessageEcho(message_id="m", content="q"))
        frames = [
            await log.append("s", AssistantDelta(message_id="m", delta=f"{i} "))
            for i in range(SEQ_BLOCK + 10)
        ]
        seqs = [echo.seq, *(f.seq for f in frames)]
        assert seqs == list(range(1, 1 + SEQ_BLOCK + 11))
        await log.close()
        key = log.stream_key("s")
        length = await client.xlen(key)
        assert length > 0
        assert length < 300  # MAXLEN ~ 100 entries (batches of deltas)
        # One window (60 s) plus the refresh period (a tenth of it) after the last delta.
        expiry_ms = await client.pttl(key)
        assert expiry_ms > 60_000
        assert expiry_ms <= 66_000
        parts = await log.streamed_parts("s")
        assert parts["m"].endswith(f"{SEQ_BLOCK + 9} ")
        # Only the answers' text is kept: the user message's echo is stored, not streamed.
        entries = await client.xrange(key) or []
        assert {field for _id, fields in entries for field in fields or {}} == {b"m", b"d"}
        assert entries[-1][0] == f"{frames[-1].seq}-0".encode()
        # A stream gone while its answer goes on (a Redis restart) is made again, expiring.
        await client.delete(key)
        await log.append("s", AssistantDelta(message_id="m", delta="again"))
        await log.close()
        assert await log.streamed_parts("s") == {"m": "again"}
        expiry_ms = await client.pttl(key)
        assert expiry_ms > 60_000
        assert expiry_ms <= 66_000
        # Another process opening the session starts above every reserved seq.
        other = RedisLog(client, prefix=prefix, reserve=reserve)
        assert await other.open("s", floor=0) >= 1 + SEQ_BLOCK + 10
    finally:
        await client.aclose()
        await drop_prefix(prefix)
