"""Shared helpers for the benchmarks: percentiles, throwaway PostgreSQL databases, printing."""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

BENCH_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of the values."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one benchmark run, dropped afterwards."""
    base = make_url(BENCH_DATABASE_URL).set(drivername="postgresql")
    name = f"rt_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base.set(database="postgres").render_as_string(False))
    await admin.execute(f'create database "{name}"')
    try:
        yield base.set(database=name).render_as_string(False)
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


def print_table(title: str, rows: list[dict[str, object]]) -> None:
    """Print rows as an aligned plain-text table."""
    print(f"\n{title}")
    if not rows:
        return
    headers = list(rows[0])
    widths = [max(len(h), *(len(f"{r[h]}") for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(f"{row[h]}".ljust(w) for h, w in zip(headers, widths, strict=True)))
