"""What can be stored as sent: one set of checks for the REST models and the WebSocket frames.

The databases refuse some values outright (PostgreSQL: a NUL character in text or JSON,
NaN and Infinity in JSON; neither driver encodes a lone surrogate; a 64-bit column holds
no larger integer) and SQLite stores some that can never be read back as JSON. Checking
here, before the database, turns each into a clear 4xx or `error` frame for that one
request. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 16
_UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class Unstorable(ValueError):
    """A value that cannot be stored as it is; the message says why, for people."""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain lone surrogates (U+D800 to U+DFFF)"
    return None


def check_text(value: str) -> str:
    """`value` itself, or Unstorable."""
    problem = text_problem(value)
    if problem is not None:
        raise Unstorable(problem)
    return value


def check_json(value: Any) -> Any:
    """`value` itself when it is JSON that can be stored (bounded in size and depth)."""
    _walk(value, depth=0)
    if len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise Unstorable(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return value


def _walk(value: Any, *, depth: int) -> None:
    """Check `value`, which `depth` objects and arrays enclose."""
    if isinstance(value, dict | list) and depth >= MAX_METADATA_DEPTH:
        raise Unstorable(f"must nest at most {MAX_METADATA_DEPTH} objects and arrays")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Unstorable("integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable("numbers must be finite (no NaN or Infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _walk(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth=depth + 1)
    else:
        raise Unstorable(f"holds a {type(value).__name__}, which is not JSON")


def storable_text(value: str) -> str:
    """`value` with what cannot be stored replaced by U+FFFD (for text the server made)."""
    if text_problem(value) is None:
        return value
    return _UNSTORABLE_CHARACTERS.sub("\ufffd", value)


def storable_json(value: Any) -> Any:
    """`value` with unstorable text replaced and non-finite numbers as null (server-made JSON)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {storable_text(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


# Types for the request models: pydantic runs the check after its own.
StorableText = Annotated[str, AfterValidator(check_text)]
Metadata = Annotated[
    dict[str, Any],
    AfterValidator(check_json),
    Field(
        description=f"Any JSON object up to {MAX_METADATA_BYTES} bytes and "
        f"{MAX_METADATA_DEPTH} levels deep: no NaN or Infinity, integers within 64 bits."
    ),
]
