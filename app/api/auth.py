"""Sign-in at the edges: the REST dependency, the WebSocket handshake, and the rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from app.api.deps import SettingsDep, StoreDep
from app.auth.authenticator import Authenticator, KeysUnavailable, Unauthenticated
from app.auth.principal import Forbidden, Principal
from app.auth.ratelimit import RateLimiter, retry_after_header
from app.chat.events import RateLimitedFrame
from app.chat.outbox import CLOSE_POLICY
from app.store.base import Store
from app.store.scoped import ScopedStore
from app.validation import text_problem

SUBPROTOCOL = "realtime.v1"
BEARER_SUBPROTOCOL = "bearer."
CLOSE_STORAGE_DOWN = 1011

router = APIRouter(tags=["auth"])

_bearer = HTTPBearer(
    auto_error=False,
    description="API_KEY, or the user's own token when AUTH_JWT_SECRET or AUTH_JWKS_URL is set.",
)


def get_authenticator(conn: HTTPConnection) -> Authenticator:
    """The authenticator the app was built with."""
    authenticator: Authenticator = conn.app.state.authenticator
    return authenticator


def get_rate_limiter(conn: HTTPConnection) -> RateLimiter | None:
    """The per-user write limiter, or None when RATE_LIMIT_PER_MINUTE is unset."""
    limiter: RateLimiter | None = conn.app.state.rate_limiter
    return limiter


async def current_principal(
    conn: HTTPConnection,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a REST request: 401 without an accepted key or token."""
    presented = credentials.credentials if credentials else None
    try:
        return await get_authenticator(conn).principal(presented)
    except KeysUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
    except Unauthenticated as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"{exc}: send 'Authorization: Bearer <API_KEY or your token>'",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def scoped(store: Store, principal: Principal) -> Store:
    """The store as this caller may see it: a user's own sessions only."""
    return store if principal.owner is None else ScopedStore(store, principal.owner)


def own_store(store: StoreDep, principal: PrincipalDep) -> Store:
    """The store scoped to the caller."""
    return scoped(store, principal)


OwnStoreDep = Annotated[Store, Depends(own_store)]


def acting_user(principal: Principal, requested: str | None) -> str:
    """The `user_id` a write acts as; 403 when a signed-in user names someone else."""
    try:
        return principal.acts_for(requested)
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc


def listed_user(principal: Principal, requested: str | None) -> str | None:
    """The `user_id` a listing is filtered by; 403 when a signed-in user names someone else."""
    try:
        return principal.filter_user(requested)
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc


async def count_write(conn: HTTPConnection, principal: PrincipalDep) -> None:
    """Count a REST write against the caller's limit: 429 with Retry-After when over it."""
    limiter = get_rate_limiter(conn)
    key = principal.rate_key
    if limiter is None or key is None:
        return
    wait = await limiter.hit(key)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many writes; retry in {retry_after_header(wait)} s",
            headers={"Retry-After": retry_after_header(wait)},
        )


async def admit_user_message(websocket: WebSocket, user_id: str) -> RateLimitedFrame | None:
    """Count a user message against its user's limit: the error frame to send when over it."""
    limiter = get_rate_limiter(websocket)
    wait = None if limiter is None else await limiter.hit(user_id)
    if wait is None:
        return None
    return RateLimitedFrame(
        message=f"too many messages; retry in {retry_after_header(wait)} s",
        retry_after=round(wait, 3),
    )


@dataclass(frozen=True, slots=True)
class Handshake:
    """An accepted WebSocket caller: who they are, as whom they talk, the subprotocol to answer.

    The engine keeps a signed-in user to their own sessions (`Registry.connect(owner=...)`).
    """

    principal: Principal
    user_id: str
    subprotocol: str | None


def offered_credential(subprotocols: list[str], token: str | None) -> tuple[str | None, str | None]:
    """The token (from `bearer.<token>` or `?token=`) and the subprotocol to answer with."""
    answer = SUBPROTOCOL if SUBPROTOCOL in subprotocols else None
    for offered in subprotocols:
        if offered.startswith(BEARER_SUBPROTOCOL):
            return offered[len(BEARER_SUBPROTOCOL) :], answer
    return token, answer


async def open_handshake(
    websocket: WebSocket, *, user_id: str | None, token: str | None
) -> Handshake | None:
    """Authenticate a handshake; None when it was refused (and the socket closed)."""
    if user_id is not None and (not 1 <= len(user_id) <= 256 or text_problem(user_id) is not None):
        await websocket.close(CLOSE_POLICY, "invalid session_id or user_id")
        return None
    credential, subprotocol = offered_credential(websocket.scope.get("subprotocols", []), token)
    try:
        principal = await get_authenticator(websocket).principal(credential)
        acting = principal.acts_for(user_id)
    except KeysUnavailable:
        await websocket.close(CLOSE_STORAGE_DOWN, "sign-in keys unavailable")
        return None
    except (Unauthenticated, Forbidden):
        await websocket.close(CLOSE_POLICY, "missing or wrong token, or another user's user_id")
        return None
    return Handshake(principal, acting, subprotocol)


class SignInOut(BaseModel):
    """How the web page signs in: nothing, the API key, or a user's token (maybe via Supabase)."""

    sign_in: Literal["open", "api_key", "token"]
    supabase_url: str | None = None
    supabase_anon_key: str | None = None


@router.get("/auth/config", response_model=SignInOut)
async def sign_in_config(settings: SettingsDep) -> SignInOut:
    """What the web page needs to sign in; open, and it holds no secret."""
    if settings.user_sign_in:
        mode: Literal["open", "api_key", "token"] = "token"
    else:
        mode = "open" if settings.api_key is None else "api_key"
    if mode == "token" and settings.supabase_url and settings.supabase_anon_key:
        return SignInOut(
            sign_in=mode,
            supabase_url=settings.supabase_url,
            supabase_anon_key=settings.supabase_anon_key,
        )
    return SignInOut(sign_in=mode)
