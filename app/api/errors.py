"""Storage and model errors mapped to HTTP answers with a JSON `detail`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from app.llm.base import LLMError
from app.store.base import AlreadyExists, NotFound, StoreError, Unavailable

log = logging.getLogger(__name__)

_STATUS: dict[type[Exception], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    AlreadyExists: status.HTTP_409_CONFLICT,
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


async def _http_error(request: Request, exc: Exception) -> Response:
    # FastAPI answers a body that is not UTF-8 (json.loads raises UnicodeDecodeError, not a
    # JSONDecodeError) with 400; the contract says a malformed body is 422, like bad JSON.
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(
        exc.__cause__, UnicodeDecodeError
    ):
        error = {"type": "json_invalid", "loc": ["body"], "msg": "the body is not UTF-8 JSON"}
        return await request_validation_exception_handler(
            request, RequestValidationError([{**error, "input": {}}])
        )
    return await http_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers for the store's and the providers' error trees."""
    app.add_exception_handler(StoreError, _handle)
    app.add_exception_handler(LLMError, _handle)
    app.add_exception_handler(HTTPException, _http_error)
