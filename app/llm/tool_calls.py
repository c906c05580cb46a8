"""Assembles streamed tool-call deltas into whole calls; pure, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.llm.base import ToolCallRequest


@dataclass(slots=True)
class _PartialCall:
    call_id: str = ""
    name: str = ""
    pieces: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Folds OpenAI tool-call deltas in by index; `finish()` returns the parsed calls in order."""

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}
        self._last_index = 0
        self.errors: list[str] = []

    def add(
        self,
        index: int | None,
        *,
        call_id: str | None = None,
        name: str | None = None,
        arguments: str | None = None,
    ) -> None:
        """Fold in one delta: id and name usually come first, the argument JSON in pieces."""
        index = self._resolve_index(index, call_id)
        call = self._calls.setdefault(index, _PartialCall())
        if call_id and not call.call_id:
            call.call_id = call_id
        # Some servers repeat the whole name in every delta; others split it.
        if name and name != call.name:
            call.name += name
        if arguments:
            call.pieces.append(arguments)
        self._last_index = index

    def finish(self) -> list[ToolCallRequest]:
        """The complete calls by index; bad argument JSON becomes `{}` and is noted in `errors`."""
        requests = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if not call.name:
                self.errors.append(f"tool call #{index} arrived without a name and was dropped")
                continue
            arguments = self._parse(call)
            requests.append(ToolCallRequest(call.call_id or f"call_{index}", call.name, arguments))
        return requests

    def _resolve_index(self, index: int | None, call_id: str | None) -> int:
        if index is not None:
            return index
        # Servers that omit the index: a new id starts a new call, anything else continues one.
        known_ids = {call.call_id for call in self._calls.values()}
        if call_id and call_id not in known_ids and self._calls:
            return max(self._calls) + 1
        return self._last_index

    def _parse(self, call: _PartialCall) -> dict[str, Any]:
        text = "".join(call.pieces).strip()
        if not text:
            return {}
        try:
            arguments = json.loads(text)
        except json.JSONDecodeError as exc:
            self.errors.append(f"tool call '{call.name}' has malformed arguments ({exc.msg})")
            return {}
        if not isinstance(arguments, dict):
            self.errors.append(f"tool call '{call.name}' has arguments that are not an object")
            return {}
        return arguments
