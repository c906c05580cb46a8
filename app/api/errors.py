"""Storage and model errors mapped to HTTP answers with a JSON `detail`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.llm.base import LLMError
from app.store.base import AlreadyExists, InvalidValue, NotFound, StoreError, Unavailable

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


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers for the store's and the providers' error trees."""
    app.add_exception_handler(StoreError, _handle)
    app.add_exception_handler(LLMError, _handle)
