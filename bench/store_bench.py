"""Storage benchmark: W concurrent writers storing N events each, then listing them.

Runs on SQLite and PostgreSQL in one process and prints events/s and the p50/p99
latency of one event write, for the store's `add_event` (group commit) and, as the
baseline measured in the same run, one transaction per event on the same engine
(this machine is noisy, so compare ratios, not seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from app.store.base import NewEvent  # noqa: E402
from app.store.sql import SqlStore  # noqa: E402
from app.store.tables import session_events  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402


async def one_transaction_per_event(store: SqlStore, event: NewEvent) -> None:
    """The baseline: what a plain implementation does for each event."""
    values = {**event.model_dump(exclude={"role"}), "role": event.resolved_role}
    async with store.engine.begin() as conn:
        await conn.execute(insert(session_events).values(**values))


async def run_backend(
    url: str, *, writers: int, events: int, pool: int, baseline: bool
) -> dict[str, object]:
    """Run the workload on one database and return its measurements."""
    store = SqlStore(Settings(_env_file=None, database_url=url).sql_url, pool_size=pool)
    await store.open()
    latencies: list[float] = []
    prefix = "base" if baseline else "bench"

    async def writer(index: int) -> None:
        session_id = f"{prefix}-{index}"
        await store.create_session(session_id=session_id, user_id=f"user-{index % 7}")
        for i in range(events):
            event = NewEvent(
                session_id=session_id,
                event_type="user_message" if i % 2 == 0 else "assistant_message",
                content=f"message {i} of writer {index}: " + "lorem ipsum " * 8,
                metadata={"i": i, "finish_reason": "stop"},
            )
            began = time.perf_counter()
            if baseline:
                await one_transaction_per_event(store, event)
            else:
                await store.add_event(event)
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    write_seconds = time.perf_counter() - began
    began = time.perf_counter()
    listed = sum(
        [len(await store.list_events(f"{prefix}-{w}", limit=events)) for w in range(writers)]
    )
    list_seconds = time.perf_counter() - began
    await store.close()
    assert listed == writers * events, listed
    return {
        "backend": store.name,
        "writes": "1 transaction per event" if baseline else "add_event (group commit)",
        "events/s": round(writers * events / write_seconds),
        "write p50 ms": round(percentile(latencies, 50), 2),
        "write p99 ms": round(percentile(latencies, 99), 2),
        "list events/s": round(listed / list_seconds),
    }


async def main() -> None:
    """Parse the workload, run it on both backends, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pool", type=int, default=10)
    args = parser.parse_args()
    print(
        f"workload: {args.writers} concurrent writers x {args.events} events "
        f"(~130-byte content, small JSON metadata), pool {args.pool}, then list all"
    )
    rows = []
    work = {"writers": args.writers, "events": args.events, "pool": args.pool}
    with tempfile.TemporaryDirectory() as tmp:
        async with throwaway_postgres() as pg_url:
            for url in (f"sqlite+aiosqlite:///{tmp}/bench.db", pg_url):
                base = await run_backend(url, **work, baseline=True)
                ours = await run_backend(url, **work, baseline=False)
                ours["events/s vs baseline"] = round(
                    float(ours["events/s"]) / float(base["events/s"]),  # type: ignore[arg-type]
                    2,
                )
                base["events/s vs baseline"] = 1.0
                rows += [base, ours]
    print_table("storage benchmark", rows)


if __name__ == "__main__":
    asyncio.run(main())
