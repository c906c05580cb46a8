"""Shared helpers for the benchmarks: percentiles, throwaway PostgreSQL databases, printing."""

from __future__ import annotations

import statistics
from contextlib import AbstractAsyncContextManager

from tools.databases import throwaway_database


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of the values."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def throwaway_postgres() -> AbstractAsyncContextManager[str]:
    """A fresh PostgreSQL database (on TEST_DATABASE_URL) for one benchmark run, dropped after."""
    return throwaway_database("rt_bench")


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
