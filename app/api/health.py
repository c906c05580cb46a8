"""`GET /health`: storage and model provider status; always open."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from app.api.deps import NodeDep, ProviderDep, StoreDep
from app.api.models import HealthOut
from app.store.base import Unavailable

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Storage or Redis is down."}},
)
async def health(store: StoreDep, provider: ProviderDep, node: NodeDep) -> HealthOut | JSONResponse:
    """Report storage, model provider and bus; 503 when storage (or a configured Redis) is down."""
    report = HealthOut(
        status="ok",
        storage=store.name,
        llm=provider.name,
        model=provider.model,
        bus="redis" if node is not None else "memory",
    )
    try:
        await store.ping()
        if node is not None:
            await node.ping()
    except (Unavailable, RedisError, OSError) as exc:
        broken = f"redis unavailable: {type(exc).__name__}"
        detail = str(exc) if isinstance(exc, Unavailable) else broken
        down = report.model_copy(update={"status": "unavailable", "detail": detail})
        return JSONResponse(down.model_dump(), status_code=503)
    return report
