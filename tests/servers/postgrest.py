"""A stand-in for a Supabase project's REST API (PostgREST), on the real PostgreSQL.

No PostgREST server can be installed on these machines, so this small Starlette app, served by
uvicorn on a free 127.0.0.1 port in a background thread, answers the requests the official
`supabase` client makes for app/store/supabase_rest.py: `/rest/v1/<table>` with GET (`select=`,
`eq.`/`gt.`/`in.(…)` filters, `order=`, `limit`/`offset`, `Prefer: count=exact`), POST of one
object or an array, PATCH and DELETE with filters, `Prefer: return=representation`, and
PostgREST-shaped errors (`{"code", "message", "details", "hint"}`: 409 for unique and foreign key
violations, 400 for bad input, 404 PGRST205 for a missing table, 401 PGRST301 for a wrong key).
Like PostgREST, each request is one transaction under the key's role (`service_role`) on a
database set up like a Supabase project (sql/supabase_local.sql, then sql/schema.sql). Values
are always query parameters; table and column names come only from the whitelist below.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.background import BackgroundServer
from tools.databases import throwaway_database

SERVICE_KEY = "stand-in-service-role-key"
# Each table's columns and their PostgreSQL types: the only names that reach SQL text.
TABLES: dict[str, dict[str, str]] = {
    "sessions": {
        "session_id": "text",
        "user_id": "text",
        "start_time": "timestamptz",
        "end_time": "timestamptz",
        "duration_seconds": "float8",
        "status": "text",
        "summary": "text",
        "metadata": "jsonb",
    },
    "session_events": {
        "id": "int8",
        "session_id": "text",
        "event_type": "text",
        "role": "text",
        "content": "text",
        "metadata": "jsonb",
        "created_at": "timestamptz",
    },
}
_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_NOT_FILTERS = {"select", "order", "limit", "offset", "columns"}


class PostgrestError(Exception):
    """An error answered in PostgREST's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, "details": details, "hint": hint}


def _ident(name: str) -> str:
    return '"' + name + '"'


def _column(table: str, name: str) -> str:
    if name not in TABLES[table]:
        raise PostgrestError(
            400, "42703", f"column {table}.{name} does not exist", hint="check the column name"
        )
    return f"{_ident(table)}.{_ident(name)}"


def _select_list(table: str, raw: str, source: str) -> str:
    names = list(TABLES[table]) if raw in ("", "*") else [n.strip() for n in raw.split(",")]
    for name in names:
        _column(table, name)
    return ", ".join(f"{source}.{_ident(name)}" for name in names)


def _in_values(raw: str) -> list[str]:
    """The items of `(a,"b,c",d)`: double quotes allow commas, backslash escapes."""
    if not (raw.startswith("(") and raw.endswith(")")):
        raise PostgrestError(400, "PGRST100", f"failed to parse filter (in.{raw})")
    items: list[str] = []
    current, quoted, escaped = "", False, False
    for char in raw[1:-1]:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    return [*items, current] if raw != "()" else []


class _Where:
    """The filters of one request as SQL text and its parameters."""

    def __init__(self, table: str, request: Request) -> None:
        self.args: list[Any] = []
        self.clauses: list[str] = []
        for key, value in request.query_params.multi_items():
            if key not in _NOT_FILTERS:
                self._add(table, key, value)

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def _add(self, table: str, key: str, value: str) -> None:
        column, kind = _column(table, key), TABLES[table][key]
        operator, _, operand = value.partition(".")
        if operator == "in":
            placeholder = self.param(_in_values(operand))
            self.clauses.append(f"{column} = any(({placeholder}::text[])::{kind}[])")
        elif operator in _OPERATORS:
            placeholder = self.param(operand)
            self.clauses.append(f"{column} {_OPERATORS[operator]} ({placeholder}::text)::{kind}")
        else:
            raise PostgrestError(400, "PGRST100", f"failed to parse filter ({value})")

    @property
    def sql(self) -> str:
        return " where " + " and ".join(self.clauses) if self.clauses else ""


def _order(table: str, raw: str | None) -> str:
    if not raw:
        return ""
    terms = []
    for term in raw.split(","):
        name, *flags = term.split(".")
        direction = "desc" if "desc" in flags else "asc"
        terms.append(f"{_column(table, name)} {direction}")
    return " order by " + ", ".join(terms)


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise PostgrestError(400, "PGRST102", f"invalid {name}: {raw}")
    return int(raw)


def _prefers(request: Request, preference: str) -> bool:
    wanted = [p.strip() for p in request.headers.get("prefer", "").split(",")]
    return preference in wanted


async def _json_body(request: Request) -> list[dict[str, Any]]:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise PostgrestError(400, "PGRST102", "Empty or invalid json") from exc
    rows = body if isinstance(body, list) else [body]
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise PostgrestError(400, "PGRST102", "All object keys must match")
    return rows


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _body_columns(table: str, request: Request, rows: list[dict[str, Any]]) -> list[str]:
    raw = request.query_params.get("columns")
    names = [n.strip().strip('"') for n in raw.split(",")] if raw else list(rows[0])
    for name in names:
        _column(table, name)
    return names


class _Api:
    """The request handlers on one asyncpg pool."""

    def __init__(self, database_url: str, key: str, role: str, max_rows: int | None) -> None:
        self.database_url = database_url
        self.key = key
        self.role = role
        self.max_rows = max_rows
        self.pool: asyncpg.Pool | None = None

    async def handle(self, request: Request) -> Response:
        try:
            self._check_key(request)
            table = request.path_params["table"]
            if table not in TABLES:
                raise _missing_table(table)
            return await self._dispatch(request, table)
        except PostgrestError as exc:
            return Response(json.dumps(exc.body), exc.status, media_type="application/json")

    def _check_key(self, request: Request) -> None:
        given = (request.headers.get("apikey"), request.headers.get("authorization"))
        if given != (self.key, f"Bearer {self.key}"):
            raise PostgrestError(401, "PGRST301", "No suitable key or wrong key type")

    async def _dispatch(self, request: Request, table: str) -> Response:
        where = _Where(table, request)
        if request.method == "GET":
            return await self._get(request, table, where)
        statement = await _write_statement(request, table, where)
        return await self._write(request, table, statement, where)

    async def _get(self, request: Request, table: str, where: _Where) -> Response:
        limit, offset = _int(request, "limit"), _int(request, "offset") or 0
        if self.max_rows is not None:
            # Like PostgREST's db-max-rows (1000 on Supabase): a cap on every read.
            limit = self.max_rows if limit is None else min(limit, self.max_rows)
        columns = _select_list(table, request.query_params.get("select", "*"), _ident(table))
        rows = (
            f"select {columns} from {_ident(table)}{where.sql}"
            f"{_order(table, request.query_params.get('order'))}"
            f"{'' if limit is None else f' limit {limit}'} offset {offset}"
        )
        count = f"(select count(*) from {_ident(table)}{where.sql})"
        if not _prefers(request, "count=exact"):
            count = "null::bigint"
        sql = f"select coalesce(json_agg(_r), '[]')::text, count(_r), {count} from ({rows}) _r"
        body, shown, total = await self._fetch(table, sql, where.args)
        first = f"{offset}-{offset + shown - 1}" if shown else "*"
        headers = {"Content-Range": f"{first}/{'*' if total is None else total}"}
        return Response(body, 200, headers, media_type="application/json")

    async def _write(self, request: Request, table: str, statement: str, where: _Where) -> Response:
        columns = _select_list(table, request.query_params.get("select", "*"), "_done")
        sql = (
            f"with _done as ({statement} returning {_ident(table)}.*) "
            f"select coalesce(json_agg(_r), '[]')::text, count(_r), null::bigint "
            f"from (select {columns} from _done) _r"
        )
        body, _, _ = await self._fetch(table, sql, where.args)
        created = request.method == "POST"
        if not _prefers(request, "return=representation"):
            return Response(None, 201 if created else 204)
        return Response(body, 201 if created else 200, media_type="application/json")

    async def _fetch(self, table: str, sql: str, args: list[Any]) -> tuple[str, int, int | None]:
        assert self.pool is not None
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(f"set local role {_ident(self.role)}")
                row = await conn.fetchrow(sql, *args)
        except asyncpg.UndefinedTableError as exc:
            raise _missing_table(table) from exc
        except asyncpg.PostgresError as exc:
            raise _postgres_error(exc) from exc
        assert row is not None
        return row[0], row[1], row[2]

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Supabase runs in UTC; PostgREST's JSON timestamps then carry +00:00.
        self.pool = await asyncpg.create_pool(
            self.database_url, min_size=1, max_size=10, server_settings={"timezone": "UTC"}
        )
        try:
            yield
        finally:
            await self.pool.close()


async def _write_statement(request: Request, table: str, where: _Where) -> str:
    """The INSERT (rows from the JSON body), UPDATE or DELETE a request asks for."""
    target = _ident(table)
    if request.method == "DELETE":
        return f"delete from {target}{where.sql}"
    rows = await _json_body(request)
    names = ", ".join(map(_ident, _body_columns(table, request, rows)))
    if request.method == "POST":
        source = f"json_populate_recordset(null::{target}, {where.param(_dumps(rows))}::json)"
        return f"insert into {target} ({names}) select {names} from {source}"
    sets = ", ".join(f"{n} = _new.{n}" for n in names.split(", "))
    source = f"json_populate_record(null::{target}, {where.param(_dumps(rows[0]))}::json)"
    return f"update {target} set {sets} from {source} as _new{where.sql}"


def _missing_table(table: str) -> PostgrestError:
    message = f"Could not find the table 'public.{table}' in the schema cache"
    return PostgrestError(404, "PGRST205", message)


def _postgres_error(exc: asyncpg.PostgresError) -> PostgrestError:
    """PostgREST's status for a PostgreSQL error."""
    code = exc.sqlstate or "XX000"
    status = 500
    if code in ("23505", "23503"):
        status = 409
    elif code == "42501":
        status = 403
    elif code.startswith(("22", "23")) or code == "42703":
        status = 400
    return PostgrestError(status, code, exc.args[0] if exc.args else str(exc), exc.detail, exc.hint)


class PostgrestStandIn:
    """The stand-in served by uvicorn on its own thread; `url` is the Supabase project URL."""

    def __init__(
        self,
        database_url: str,
        *,
        key: str = SERVICE_KEY,
        role: str = "service_role",
        max_rows: int | None = None,
    ) -> None:
        self._api = _Api(database_url, key, role, max_rows)
        route = Route(
            "/rest/v1/{table}", self._api.handle, methods=["GET", "POST", "PATCH", "DELETE"]
        )
        app = Starlette(routes=[route], lifespan=self._api.lifespan)
        self._server = BackgroundServer(app, ws="none")
        self.url = ""

    @property
    def key(self) -> str:
        """The service role key the server accepts (settable, as when a key is rotated)."""
        return self._api.key

    @key.setter
    def key(self, value: str) -> None:
        self._api.key = value

    def start(self) -> PostgrestStandIn:
        """Start serving and wait until the socket listens."""
        self.url = self._server.start().url
        return self

    def stop(self) -> None:
        """Stop serving and close the pool."""
        self._server.stop()


@pytest.fixture(scope="session")
async def postgrest_database(pg_url: str) -> AsyncIterator[str]:
    """A database set up like a Supabase project, for the whole run."""
    async with throwaway_database("rt_supabase", "supabase_local.sql", "schema.sql") as url:
        yield url


@pytest.fixture(scope="session")
def postgrest_server(postgrest_database: str) -> Iterator[PostgrestStandIn]:
    """The PostgREST stand-in on `postgrest_database`, for the whole run."""
    server = PostgrestStandIn(postgrest_database).start()
    yield server
    server.stop()
