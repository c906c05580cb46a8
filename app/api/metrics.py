"""`GET /metrics`: this process's metrics in the Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from app import metrics
from app.api.auth import PrincipalDep


def service_only(principal: PrincipalDep) -> None:
    """Metrics are the whole service's: the API key (or an open server) reads them, a user 403."""
    if principal.owner is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="metrics need the service's API_KEY")


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(service_only)],
    responses={
        200: {"content": {metrics.CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
        401: {"description": "API_KEY is set and was not sent."},
        403: {"description": "A user's own token: metrics are the service's."},
    },
)
async def read_metrics() -> Response:
    """Sessions connected, answers, timings, tokens, tool calls, errors, storage, this process."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE_LATEST)
