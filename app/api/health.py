"""`GET /health`: storage and model provider status; always open."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ProviderDep, StoreDep
from app.api.models import HealthOut
from app.store.base import Unavailable

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Storage is down."}},
)
async def health(store: StoreDep, provider: ProviderDep) -> HealthOut | JSONResponse:
    """Report the storage backend and model provider; 503 when storage is unreachable."""
    report = HealthOut(status="ok", storage=store.name, llm=provider.name, model=provider.model)
    try:
        await store.ping()
    except Unavailable as exc:
        down = report.model_copy(update={"status": "unavailable", "detail": str(exc)})
        return JSONResponse(down.model_dump(), status_code=503)
    return report
