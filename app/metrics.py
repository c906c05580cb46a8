"""This process's Prometheus metrics: the collectors, and the few calls that feed them.

Metrics are per process, like its log lines: they live in one registry of this module, and
the engine reports to it from the points where the facts already exist (the frames a
session publishes or replies, an answer's timings, a store batch, a connection's life).
Separate servers each answer `/metrics` for themselves; Prometheus sums them. Workers of one
server (one address) share PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess mode,
so whichever worker answers gives the sum of them all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE_LATEST
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from app.vocabulary import FINISH_REASONS

if TYPE_CHECKING:  # only the type: the store reports here too, and must not import the engine
    from app.chat.events import ServerFrame

# The `*_created` series only repeat the start time of each counter; Prometheus has it already.
disable_created_metrics()  # type: ignore[no-untyped-call]
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client reads it at import: set, every value lives in a file of that folder.
SHARED = bool(os.environ.get(MULTIPROCESS_ENV))
REGISTRY = CollectorRegistry()
if not SHARED:  # one process's memory and CPU mean nothing for a sum over workers
    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)

# Hosted models answer in tens of milliseconds to tens of seconds.
ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
TOKEN_KINDS = ("prompt", "completion")

# A gauge of value 1, as an Info would show it (Info does not work across processes).
BUILD = Gauge(
    "realtime_build_info",
    "The service: version, storage, model provider, model.",
    ["version", "storage", "llm", "model"],
    registry=REGISTRY,
    multiprocess_mode="max",
)
CONNECTIONS = Gauge(
    "realtime_sessions_connected",
    "WebSocket connections joined to a session, by role (writer or observer).",
    ["role"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
ANSWERS = Counter(
    "realtime_answers", "Answers ended, by finish_reason.", ["finish_reason"], registry=REGISTRY
)
TTFT = Histogram(
    "realtime_answer_ttft_seconds",
    "Time from the start of an answer to its first text delta.",
    buckets=ANSWER_BUCKETS,
    registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "realtime_answer_duration_seconds",
    "Time from the start of an answer to its end, tool calls included.",
    buckets=ANSWER_BUCKETS,
    registry=REGISTRY,
)
TOKENS = Counter(
    "realtime_tokens", "Model tokens, by kind (prompt, completion).", ["kind"], registry=REGISTRY
)
COST = Counter(
    "realtime_cost_usd", "Model cost by LLM_PRICES, by model.", ["model"], registry=REGISTRY
)
TOOL_CALLS = Counter("realtime_tool_calls", "Tool calls, by tool.", ["tool"], registry=REGISTRY)
ERRORS = Counter("realtime_errors", "`error` frames sent, by code.", ["code"], registry=REGISTRY)
STORE_WRITE = Histogram(
    "realtime_store_write_seconds",
    "Time to store one batch of events (group commit).",
    buckets=WRITE_BUCKETS,
    registry=REGISTRY,
)
STORE_BATCH = Histogram(
    "realtime_store_write_batch_size",
    "Events stored per batch.",
    buckets=BATCH_BUCKETS,
    registry=REGISTRY,
)
STORE_FAILURES = Counter(
    "realtime_store_write_failures", "Event batches whose write failed.", registry=REGISTRY
)
REPLAYS = Counter(
    "realtime_replay_requests",
    "Connections that asked for a replay (after_seq).",
    registry=REGISTRY,
)
REPLAYED_FRAMES = Counter("realtime_replay_frames", "Frames sent by replays.", registry=REGISTRY)

# Children made once: every series shows from the start, and the hot path skips the label lookup.
_CONNECTED = {role: CONNECTIONS.labels(role) for role in ("writer", "observer")}
_TOKENS = {kind: TOKENS.labels(kind) for kind in TOKEN_KINDS}
_ANSWERS = {reason: ANSWERS.labels(reason) for reason in FINISH_REASONS}


def render() -> bytes:
    """The text format of every metric of this process (of every worker, in multiprocess mode)."""
    if not SHARED:
        return generate_latest(REGISTRY)
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return generate_latest(merged)


def describe_service(*, version: str, storage: str, llm: str, model: str) -> None:
    """Set the `realtime_build_info` labels (at start-up)."""
    # One series: an app made again in the same process (a notebook re-run) replaces the last.
    BUILD.clear()
    BUILD.labels(version, storage, llm, model).set(1)


def process_stopped() -> None:
    """Take this process's live gauges out of the workers' sum (at shutdown)."""
    if SHARED:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def share_between_workers(workers: int) -> None:
    """Before starting `workers` processes: give them one fresh PROMETHEUS_MULTIPROC_DIR.

    An operator's own folder is kept but emptied, since old files would add to the sums.
    """
    if workers <= 1:
        return
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder:
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))
    else:
        os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="realtime-metrics-")


@contextmanager
def connected(role: Literal["writer", "observer"]) -> Iterator[None]:
    """Count one connection as `writer` or `observer` while the block runs."""
    gauge = _CONNECTED[role]
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def frame_sent(frame: ServerFrame) -> None:
    """Count what a frame a session publishes or replies says: an answer, a tool call, an error."""
    if frame.type == "assistant.done":
        _ANSWERS[frame.finish_reason].inc()
        usage = frame.usage or {}
        for token_kind, counter in _TOKENS.items():
            counter.inc(max(usage.get(f"{token_kind}_tokens", 0), 0))
    elif frame.type == "tool.call":
        TOOL_CALLS.labels(frame.name).inc()
    elif frame.type == "error":
        ERRORS.labels(frame.code).inc()


def answer_timed(timings: Mapping[str, Any], *, model: str, cost_usd: float | None) -> None:
    """Observe an answer's time to first token, whole time, and cost (as stored with it)."""
    ttft = timings.get("ttft_ms")
    if isinstance(ttft, int | float):
        TTFT.observe(ttft / 1000)
    total = timings.get("total_ms")
    if isinstance(total, int | float):
        ANSWER_SECONDS.observe(total / 1000)
    if cost_usd:
        COST.labels(model).inc(cost_usd)


def batch_written(seconds: float, size: int, *, failed: bool = False) -> None:
    """Observe one event batch written to the store."""
    STORE_WRITE.observe(seconds)
    STORE_BATCH.observe(size)
    if failed:
        STORE_FAILURES.inc()


def replayed(frames: int) -> None:
    """Count one replay request and the frames it sent."""
    REPLAYS.inc()
    REPLAYED_FRAMES.inc(frames)
