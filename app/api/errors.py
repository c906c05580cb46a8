"""Storage, model and request errors mapped to HTTP answers with a JSON `detail`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from app.llm.base import LLMError
from app.store.base import AlreadyExists, InvalidValue, NotFound, StoreError, Unavailable
from app.validation import storable_json, storable_text

log = logging.getLogger(__name__)

_STATUS: dict[type[Exception], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    AlreadyExists: status.HTTP_409_CONFLICT,
    InvalidValue: 422,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    LLMError: status.HTTP_502_BAD_GATEWAY,
}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (value for kind, value in _STATUS.items() if isinstance(exc, kind)),
        status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    if code >= 500:
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=code)


class SafeJSONResponse(JSONResponse):
    """JSON that always renders: text JSON cannot carry (a lone surrogate) becomes U+FFFD.

    Only rows stored before validation existed can hold such values; one of them must not
    make a whole listing fail.
    """

    def render(self, content: Any) -> bytes:
        """The JSON bytes of `content`, mended when it cannot be encoded as it is."""
        try:
            return super().render(content)
        except ValueError:
            return super().render(storable_json(content))


def _problem(error: Any) -> dict[str, Any]:
    # Only what pydantic says, never the input: it may be what cannot be encoded.
    return {
        "type": storable_text(str(error.get("type", "value_error"))),
        "loc": [
            item if isinstance(item, int) else storable_text(str(item))
            for item in error.get("loc", ())
        ],
        "msg": storable_text(str(error.get("msg", "invalid value"))),
    }


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [_problem(error) for error in errors]}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    # FastAPI answers a body that is not UTF-8 (json.loads raises UnicodeDecodeError, not a
    # JSONDecodeError) with 400; the contract says a malformed body is 422, like bad JSON.
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(
        exc.__cause__, UnicodeDecodeError
    ):
        error = {"type": "json_invalid", "loc": ["body"], "msg": "the body is not UTF-8 JSON"}
        return await _invalid_request(request, RequestValidationError([error]))
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers for bad requests and the store's and providers' error trees."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StoreError, _handle)
    app.add_exception_handler(LLMError, _handle)
    app.add_exception_handler(HTTPException, _http_error)
