"""`GET /vocabulary.js`: the words the web page shares with the service, from app/vocabulary.py.

The page imports this module instead of writing the words (and the end-of-turn rule's) itself.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from app import vocabulary

router = APIRouter()

# What the page reads, under the names it imports.
SHARED: dict[str, object] = {
    "SERVER_FRAME_TYPES": vocabulary.SERVER_FRAME_TYPES,
    "ANSWER_END": vocabulary.ANSWER_END,
    "REFUSED_WHILE_ANSWERING": vocabulary.REFUSED_WHILE_ANSWERING,
    "FINISH_REASONS": vocabulary.FINISH_REASONS,
    "EVENT_TYPES": vocabulary.EVENT_TYPES,
    "CONNECTION_MODES": vocabulary.CONNECTION_MODES,
    "ON_BUSY": vocabulary.ON_BUSY,
    "SESSION_ID_PATTERN": vocabulary.SESSION_ID_PATTERN,
}


def javascript_module(words: dict[str, object]) -> str:
    """An ES module exporting each word as a constant (JSON is valid JavaScript)."""
    lines = ["// Served by the service from app/vocabulary.py; not a file to edit."]
    lines += [f"export const {name} = {json.dumps(value)};" for name, value in words.items()]
    return "\n".join(lines) + "\n"


_MODULE = javascript_module(SHARED)


@router.get("/vocabulary.js", include_in_schema=False)
async def vocabulary_module() -> Response:
    """The shared words as a JavaScript module."""
    return Response(_MODULE, media_type="text/javascript")
