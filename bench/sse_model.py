"""A paced OpenAI-format model for benchmarks: first token after T ms, then one every D ms.

Stand-in for a real model server (none can run here). `POST /v1/chat/completions` with
`stream: true` answers SSE chunks as the `openai` SDK expects, on an absolute schedule
(token i due at arrival + T + i x D); without `stream` it answers one whole completion
after T (the server's session summaries). It is a bare HTTP/1.1 protocol on uvloop, not
a framework, so that 200 streams of 50 tokens/s cost it little and it keeps its schedule.

It times itself on the machine's monotonic clock (the same clock in every process): for
each streamed request, the last user message (the benchmark's tag), when the request had
arrived, when its first token was written and how late against the schedule its first
and its latest token were. `GET /stats` returns those records and forgets them, with the
number of requests still open.
Run: python bench/sse_model.py PORT TTFT_MS GAP_MS TOKENS
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import cast

import orjson
import uvloop


@dataclass(slots=True)
class Pace:
    """The stand-in's schedule, in seconds."""

    ttft: float
    gap: float
    tokens: int


@dataclass(slots=True)
class _Stream:
    """One streamed answer: its tag and its own timing (monotonic seconds, lateness in ms)."""

    tag: str
    arrived: float
    base: float  # the event loop's time of the first token's due moment
    sent: int = 0
    first: float = 0.0
    late_first_ms: float = 0.0
    late_max_ms: float = 0.0


@dataclass
class Ledger:
    """What the stand-in did since the last `GET /stats`."""

    records: list[dict[str, object]] = field(default_factory=list)
    completions: int = 0  # non-streamed requests answered
    open: int = 0  # requests not yet answered in full


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; the SDK sends a request only after the last answer."""

    def __init__(self, pace: Pace, ledger: Ledger) -> None:
        self._pace = pace
        self._ledger = ledger
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._ledger.open -= 1
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            self._request(head[0].split(" ")[1], body)

    def _request(self, path: str, body: bytes) -> None:
        arrived = time.monotonic()
        if path == "/stats":
            self._json(_stats(self._ledger))
            return
        request = orjson.loads(body)
        tag = str(request["messages"][-1]["content"])
        self._ledger.open += 1
        loop = asyncio.get_running_loop()
        due = loop.time() + self._pace.ttft
        if not request.get("stream"):
            self._timer = loop.call_at(due, self._complete)
            return
        assert self._transport is not None
        self._transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        stream = _Stream(tag=tag, arrived=arrived, base=due)
        self._timer = loop.call_at(due, self._token, stream)

    def _token(self, stream: _Stream) -> None:
        assert self._transport is not None
        pace = self._pace
        i = stream.sent
        now = time.monotonic()
        late_ms = (now - (stream.arrived + pace.ttft + i * pace.gap)) * 1000
        stream.late_max_ms = max(stream.late_max_ms, late_ms)
        if i == 0:
            stream.first = now
            stream.late_first_ms = late_ms
        if i < pace.tokens:
            self._transport.write(_sized(_chunk({"content": "word " if i else "Word "}, None)))
            stream.sent += 1
            due = stream.base + stream.sent * pace.gap
            self._timer = asyncio.get_running_loop().call_at(due, self._token, stream)
            return
        self._transport.write(
            _sized(_chunk({}, "stop")) + _sized(b"data: [DONE]\n\n") + b"0\r\n\r\n"
        )
        self._timer = None
        self._ledger.open -= 1
        self._ledger.records.append(asdict(stream))

    def _complete(self) -> None:
        self._timer = None
        self._ledger.open -= 1
        self._ledger.completions += 1
        self._json(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 0,
                "model": "bench-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "A short summary."},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    def _json(self, body: object) -> None:
        assert self._transport is not None
        data = orjson.dumps(body)
        self._transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(data)).encode()
            + b"\r\n\r\n"
            + data
        )


def _stats(ledger: Ledger) -> dict[str, object]:
    stats: dict[str, object] = {
        "records": ledger.records,
        "completions": ledger.completions,
        "open": ledger.open,
    }
    ledger.records, ledger.completions = [], 0
    return stats


def _chunk(delta: dict[str, str], finish: str | None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def _sized(data: bytes) -> bytes:
    """One piece of a chunked HTTP body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


async def serve(port: int, pace: Pace) -> None:
    """Answer on 127.0.0.1:`port` until cancelled."""
    ledger = Ledger()
    server = await asyncio.get_running_loop().create_server(
        lambda: _Connection(pace, ledger), "127.0.0.1", port, backlog=2048
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    port, ttft_ms, gap_ms, count = sys.argv[1:5]
    uvloop.run(serve(int(port), Pace(float(ttft_ms) / 1000, float(gap_ms) / 1000, int(count))))
