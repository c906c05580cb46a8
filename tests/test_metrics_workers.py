"""Workers sharing PROMETHEUS_MULTIPROC_DIR: any one's `/metrics` sums them all.

Two `python -m app` processes on one database and one metrics folder stand for the workers
of one server, so that which process answers a scrape does not matter.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from app import metrics
from tests.processes import served_app
from tests.test_metrics import Samples, parse, value, wait_until
from tests.wsclient import ask, of_type, open_session

pytestmark = pytest.mark.timeout(120)


def scrape(base_url: str) -> Samples:
    """One process's answer to `/metrics`, parsed."""
    answer = httpx.get(f"{base_url}/metrics")
    assert answer.status_code == 200
    return parse(answer.text)


async def test_every_worker_answers_with_the_sum_of_all(tmp_path: Path) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    # Only the metrics folder is shared: a second process may not open the same SQLite file.
    env = {metrics.MULTIPROCESS_ENV: str(shared)}
    first = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", **env}
    second = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'two.db'}", **env}
    with served_app(tmp_path, **first) as (_, one), served_app(tmp_path, **second) as (_, two):
        writer, _ = await open_session(one, "workers-1")
        observer, _ = await open_session(two, "workers-2")
        other, _ = await open_session(two, "workers-2", mode="observe")
        frames = await ask(writer, "What time is it?")
        usage = of_type(frames, "assistant.done")[0]["usage"]
        await ask(observer, "hello")
        for base in (one, two):
            samples = scrape(base)
            assert value(samples, "realtime_sessions_connected", role="writer") == 2
            assert value(samples, "realtime_sessions_connected", role="observer") == 1
            assert value(samples, "realtime_answers_total", finish_reason="stop") == 2
            assert value(samples, "realtime_tool_calls_total", tool="get_current_time") == 1
            assert value(samples, "realtime_tokens_total", kind="prompt") > usage["prompt_tokens"]
            assert value(samples, "realtime_answer_ttft_seconds_count") == 2
            # One process's memory would say nothing about the sum, so none is shown.
            assert value(samples, "process_resident_memory_bytes") == 0
        for ws in (writer, observer, other):
            await ws.close()
        await wait_until(
            lambda s: (
                value(s, "realtime_sessions_connected", role="writer") == 0
                and value(s, "realtime_sessions_connected", role="observer") == 0
            ),
            one,
        )


def test_workers_get_a_fresh_folder_or_an_emptied_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set, then removed: monkeypatch then removes what the function sets when the test ends.
    monkeypatch.setenv(metrics.MULTIPROCESS_ENV, "")
    monkeypatch.delenv(metrics.MULTIPROCESS_ENV)
    metrics.share_between_workers(1)
    assert metrics.MULTIPROCESS_ENV not in os.environ
    metrics.share_between_workers(4)
    made = Path(os.environ[metrics.MULTIPROCESS_ENV])
    assert made.is_dir() and not any(made.iterdir())
    made.rmdir()
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv(metrics.MULTIPROCESS_ENV, str(tmp_path))
    metrics.share_between_workers(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
