"""What the metrics cost on the engine's hot path: `frame_sent` per published frame.

    .venv/bin/python bench/metrics_overhead.py

Times N calls of `metrics.frame_sent` for a delta (the most frequent frame: nothing counted),
an `assistant.done` (answers and tokens counted) and a tool call, against the baseline of
calling a function that does nothing, in the same run.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import metrics  # noqa: E402
from app.chat.events import AssistantDelta, AssistantDone, ServerFrame, ToolCall  # noqa: E402

N = 200_000


def _nothing(frame: ServerFrame) -> None:
    """The baseline: a call that does nothing."""


def _per_call(call: Callable[[ServerFrame], None], frame: ServerFrame) -> float:
    """Nanoseconds per call, the best of five runs of N."""
    return min(timeit.repeat(lambda: call(frame), number=N, repeat=5)) / N * 1e9


def main() -> None:
    """Time each frame kind against the baseline and print ns per call and the ratio."""
    frames: dict[str, ServerFrame] = {
        "assistant.delta": AssistantDelta(message_id="m", delta="word "),
        "assistant.done": AssistantDone(
            message_id="m",
            content="x",
            finish_reason="stop",
            usage={"prompt_tokens": 10, "completion_tokens": 5},
        ),
        "tool.call": ToolCall(message_id="m", call_id="c", name="get_current_time", arguments={}),
    }
    print(f"workload: {N:,} calls each, best of 5")
    for kind, frame in frames.items():
        base = _per_call(_nothing, frame)
        cost = _per_call(metrics.frame_sent, frame)
        print(f"{kind:16} baseline {base:6.0f} ns  frame_sent {cost:6.0f} ns  x{cost / base:.1f}")


if __name__ == "__main__":
    main()
