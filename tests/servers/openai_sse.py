"""A stand-in for an OpenAI-compatible chat server, scripted per test.

No real OpenAI-compatible server can run in the test environment, so this small threaded HTTP
server on 127.0.0.1 speaks just enough of `POST /v1/chat/completions` for the official `openai`
SDK: SSE chunks (`data: {...}`), `data: [DONE]`, the usage chunk with empty choices, OpenAI-shaped
error bodies, streams that break off, and slow streams that notice a client hanging up.
Each request takes the next scripted reply (a short text answer when none is left) and is recorded.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODEL = "stand-in-model"
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
_HANGUP = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
# A scripted reply: writes the answer to one request on the handler's connection.
_Send = Callable[["_Handler", dict[str, Any]], None]


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class OpenAIStandIn:
    """The scriptable server: queue replies with the `answer_*`/`fail`/... methods, then call it."""

    requests: list[ReceivedRequest] = field(default_factory=list)
    client_disconnected: threading.Event = field(default_factory=threading.Event)
    # Set by `count_prompts`: every reply's usage counts the request it answers.
    measured_usage: bool = False
    # Set by `write_unstreamed`: answers requests without `stream` (summaries) off the queue.
    unstreamed: Callable[[dict[str, Any]], str] | None = None
    _replies: deque[_Send] = field(default_factory=deque)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """The `base_url` to give the SDK."""
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def last_body(self) -> dict[str, Any]:
        """The JSON body of the latest request."""
        return self.requests[-1].body

    def start(self) -> OpenAIStandIn:
        """Listen on a free port in a background thread."""
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.stand_in = self  # type: ignore[attr-defined]
        self._httpd = httpd
        # A short poll keeps `stop()` quick (the default waits up to half a second).
        serve = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        """Stop serving and end any slow stream still running."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def answer_text(
        self, *pieces: str, finish_reason: str = "stop", usage: dict[str, int] | None = USAGE
    ) -> None:
        """Answer with text streamed as these pieces (or, unstreamed, as one message)."""
        deltas = [{"role": "assistant", "content": ""}, *({"content": p} for p in pieces)]
        self._replies.append(_stream(deltas, finish_reason, usage, "".join(pieces)))

    def answer_tool_calls(
        self, *calls: tuple[str, str, str], pieces: int = 3, usage: dict[str, int] | None = USAGE
    ) -> None:
        """Call tools given as (id, name, argument JSON): id and name first, arguments in pieces."""
        deltas: list[dict[str, Any]] = []
        for index, (call_id, name, arguments) in enumerate(calls):
            head = {"index": index, "id": call_id, "type": "function"}
            head["function"] = {"name": name, "arguments": ""}
            deltas.append({"role": "assistant", "content": None, "tool_calls": [head]})
            for piece in split_evenly(arguments, pieces):
                part = {"index": index, "function": {"arguments": piece}}
                deltas.append({"tool_calls": [part]})
        self._replies.append(_stream(deltas, "tool_calls", usage, None))

    def fail(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "server_error",
        code: str | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        """Answer with an HTTP error and OpenAI's error body."""
        error = {"message": message, "type": error_type, "param": None, "code": code}
        headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}
        self._replies.append(_error(status, {"error": error}, headers))

    def break_off(self, *pieces: str) -> None:
        """Stream these text pieces, then drop the connection without finishing the body."""
        deltas = [{"role": "assistant", "content": ""}, *({"content": p} for p in pieces)]
        self._replies.append(_broken(deltas))

    def answer_slowly(
        self, piece: str = "tick ", *, count: int = 1000, interval: float = 0.02
    ) -> None:
        """Stream one piece every `interval` seconds until done or the client hangs up."""
        self._replies.append(_slow(piece, count, interval))

    def hang(self, seconds: float = 30.0) -> None:
        """Send nothing for `seconds` (for client timeouts)."""
        self._replies.append(_hang(seconds))

    def send_raw(self, *events: str) -> None:
        """Stream these raw SSE `data:` payloads as they are (for malformed or error chunks)."""
        self._replies.append(_raw(events))

    def count_prompts(self) -> None:
        """Report `usage` as `prompt_tokens(body)` of each request instead of fixed numbers."""
        self.measured_usage = True

    def write_unstreamed(self, write: Callable[[dict[str, Any]], str]) -> None:
        """Answer every request without `stream` with `write(body)`; the queue is left alone."""
        self.unstreamed = write

    def wait_for_disconnect(self, timeout: float = 10.0) -> bool:
        """Whether a client hung up on a stream within `timeout` seconds."""
        return self.client_disconnected.wait(timeout)

    def _next_reply(self, body: dict[str, Any]) -> _Send:
        if self.unstreamed is not None and not body.get("stream"):
            text = self.unstreamed(body)
            return _stream([{"content": text}], "stop", USAGE, text)
        try:
            return self._replies.popleft()
        except IndexError:
            return _stream([{"content": "OK"}], "stop", USAGE, "OK")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def stand_in(self) -> OpenAIStandIn:
        return self.server.stand_in  # type: ignore[attr-defined,no-any-return]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.stand_in.requests.append(ReceivedRequest(self.path, headers, body))
        self.close_connection = True
        if self.path != "/v1/chat/completions":
            _error(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}, {})(
                self, body
            )
            return
        try:
            self.stand_in._next_reply(body)(self, body)
        except _HANGUP:
            self.stand_in.client_disconnected.set()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def send_event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def end_events(self) -> None:
        self.send_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_json(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


_PIECES = re.compile(r"\w+|[^\w\s]")


def count_text(text: str) -> int:
    """A word-level tokenizer's count: every word and every punctuation mark is a token."""
    return len(_PIECES.findall(text))


def prompt_tokens(body: dict[str, Any]) -> int:
    """The request's prompt size as this stand-in counts it: message texts, tool traffic, tools.

    Finer than the app's byte estimate for JSON and punctuation, so the app has to rely on the
    reported counts to keep its budget.
    """
    total = 0
    for message in body.get("messages", []):
        total += 3 + count_text(str(message.get("content") or ""))
        for call in message.get("tool_calls") or ():
            total += count_text(call["id"]) + count_text(json.dumps(call["function"]))
        total += count_text(str(message.get("tool_call_id") or ""))
    return total + (count_text(json.dumps(body["tools"])) if body.get("tools") else 0)


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return {**_envelope("chat.completion.chunk"), "choices": [choice]}


def split_evenly(text: str, pieces: int) -> list[str]:
    """`text` in `pieces` consecutive parts (fewer when it is shorter)."""
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _envelope(kind: str) -> dict[str, Any]:
    return {"id": "chatcmpl-stand-in", "object": kind, "created": 1_700_000_000, "model": MODEL}


def _wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options") or {}
    return bool(options.get("include_usage"))


def _measured(usage: dict[str, int] | None, body: dict[str, Any]) -> dict[str, int] | None:
    if usage is None:
        return None
    prompt, completion = prompt_tokens(body), usage.get("completion_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _stream(
    deltas: list[dict[str, Any]], finish_reason: str, usage: dict[str, int] | None, text: str | None
) -> _Send:
    def send(handler: _Handler, body: dict[str, Any]) -> None:
        reported = _measured(usage, body) if handler.stand_in.measured_usage else usage
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            choice = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            completion = {**_envelope("chat.completion"), "choices": [choice], "usage": reported}
            handler.send_json(200, completion, {})
            return
        handler.start_events()
        for delta in deltas:
            handler.send_event(json.dumps(chunk(delta)))
        handler.send_event(json.dumps(chunk({}, finish_reason)))
        # Like OpenAI: usage comes last, in a chunk with no choices, and only when asked for.
        if usage is not None and _wants_usage(body):
            handler.send_event(
                json.dumps({**_envelope("chat.completion.chunk"), "choices": [], "usage": reported})
            )
        handler.end_events()

    return send


def _error(status: int, error: dict[str, Any], headers: dict[str, str]) -> _Send:
    def send(handler: _Handler, body: dict[str, Any]) -> None:
        handler.send_json(status, error, headers)

    return send


def _broken(deltas: list[dict[str, Any]]) -> _Send:
    def send(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_events()
        for delta in deltas:
            handler.send_event(json.dumps(chunk(delta)))
        # No [DONE] and no final zero-length chunk: the client sees an incomplete body.

    return send


def _slow(piece: str, count: int, interval: float) -> _Send:
    def send(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_events()
        handler.send_event(json.dumps(chunk({"role": "assistant", "content": ""})))
        for _ in range(count):
            if handler.stand_in._stopping.wait(interval):
                return
            handler.send_event(json.dumps(chunk({"content": piece})))
        handler.send_event(json.dumps(chunk({}, "stop")))
        handler.end_events()

    return send


def _hang(seconds: float) -> _Send:
    def send(handler: _Handler, body: dict[str, Any]) -> None:
        handler.stand_in._stopping.wait(seconds)

    return send


def _raw(events: tuple[str, ...]) -> _Send:
    def send(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_events()
        for data in events:
            handler.send_event(data)
        handler.end_events()

    return send


@pytest.fixture
def openai_server() -> Iterator[OpenAIStandIn]:
    """A started OpenAI-format SSE stand-in on a free local port, stopped after the test."""
    server = OpenAIStandIn().start()
    yield server
    server.stop()
