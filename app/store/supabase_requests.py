"""The requests of the Supabase store: the official async client, its errors as the store's."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
from postgrest import APIError, APIResponse, AsyncRequestBuilder, AsyncSelectRequestBuilder
from pydantic import SecretStr
from supabase import AsyncClient, AsyncClientOptions, AsyncSupabaseException, acreate_client

from app.store.base import StoreError, Unavailable
from app.store.sql_errors import Failure, classify_sqlstate, error_for

log = logging.getLogger(__name__)
Row = dict[str, Any]
Query = AsyncSelectRequestBuilder

SCHEMA_HINT = (
    "the tables 'sessions' and 'session_events' are missing: open the project's SQL editor "
    "(Dashboard > SQL Editor), paste sql/schema.sql and run it"
)
_MISSING_TABLE = {"42P01", "PGRST205"}


class PostgrestRequests:
    """One project's REST API with the service role key: builders in, rows or StoreError out."""

    def __init__(self, url: str, key: SecretStr, *, timeout: float = 30.0) -> None:
        self._url = url
        self._key = key
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self._client: AsyncClient | None = None

    async def open(self) -> None:
        """Create the client; Unavailable when the URL or the key is not usable."""
        self._http = httpx.AsyncClient(
            http2=True,
            timeout=httpx.Timeout(self._timeout, connect=5.0),
            event_hooks={"response": [_refuse_rejected_key]},
        )
        # Our own httpx client (closed in `close`), no retry sleeps, no auth session timers.
        options = AsyncClientOptions(
            httpx_client=self._http,
            postgrest_client_retry=False,
            auto_refresh_token=False,
            persist_session=False,
        )
        try:
            self._client = await acreate_client(
                self._url, self._key.get_secret_value(), options=options
            )
        except AsyncSupabaseException as exc:
            raise Unavailable(f"SUPABASE_URL is not usable: {exc.message}") from exc

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            await self._http.aclose()

    def table(self, name: str) -> AsyncRequestBuilder:
        """A request builder on one table; Unavailable before `open`."""
        if self._client is None:
            raise Unavailable("storage is not open")
        return self._client.table(name)

    async def rows(self, query: Query, *, session_id: str = "") -> list[Row]:
        """Run one request and return its rows."""
        return data(await self.send(query, session_id=session_id))

    async def send(self, query: Query, *, session_id: str = "") -> APIResponse:
        """Run one request; the client's and httpx's errors become the store's own."""
        try:
            return await query.execute()
        except APIError as exc:
            raise _translate(exc, session_id) from exc
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise Unavailable(
                f"Supabase refused the key (HTTP {status}): set SUPABASE_SERVICE_ROLE_KEY to the "
                "project's service_role (secret) key, not the anon (publishable) one"
            ) from exc
        except httpx.TransportError as exc:
            log.warning("Supabase at %s is unreachable: %s: %s", self._url, type(exc).__name__, exc)
            raise Unavailable(f"Supabase at {self._url} is unreachable") from exc


def data(response: APIResponse) -> list[Row]:
    """A response's rows."""
    return cast(list[Row], response.data)


async def _refuse_rejected_key(response: httpx.Response) -> None:
    # Gateways answer a bad key with bodies the PostgREST client cannot classify; the status can.
    if response.status_code in (401, 403):
        response.raise_for_status()


def _translate(exc: APIError, session_id: str) -> StoreError:
    """The store's error for a PostgREST error body (its text goes to the log only)."""
    code = exc.code or ""
    if code in _MISSING_TABLE:
        return Unavailable(f"Supabase is not set up: {SCHEMA_HINT}")
    log.warning("Supabase refused a request: %s %s", code, str(exc.message)[:300])
    # PGRST1xx: PostgREST could not read the request (a body it cannot parse, say).
    kind = Failure.INVALID if code.startswith("PGRST1") else classify_sqlstate(code)
    return error_for(kind, session_id=session_id or None)
