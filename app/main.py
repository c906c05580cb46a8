"""The application factory, and `app`, the app on the environment's settings.

`uvicorn app.main:app` and `fastapi run app/main.py` serve `app`; tests call `create_app(settings)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app import metrics
from app.api import auth, events, exports, health, sessions, vocabulary, ws
from app.api import metrics as metrics_route
from app.api.errors import SafeJSONResponse, install_error_handlers
from app.api.limits import BodyLimit
from app.api.openapi import install_openapi
from app.auth.authenticator import Authenticator, build_rate_limiter
from app.bus import build_log
from app.chat.answer import ChatOptions
from app.chat.demo_tools import DEMO_TOOLS
from app.chat.durable import DurableWriter
from app.chat.registry import Registry
from app.chat.session import SessionServices
from app.chat.summarizer import Summarizer
from app.chat.tools import build_registry
from app.cluster.guard import hold_postgres, hold_sqlite_file, let_go, let_go_postgres
from app.cluster.node import Node
from app.config import Settings, load_settings
from app.lifecycle import drain_before_signals, drain_from_thread, settle_heap
from app.llm import build_provider
from app.logs import redact_tokens_in_server_logs
from app.store import build_store

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("app")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    on_sql = settings.storage_backend == "sql"
    sqlite_hold = hold_sqlite_file(settings.sql_url) if on_sql else None
    store = build_store(settings)
    await store.open()
    pg_hold = await hold_postgres(settings.sql_url, bus=settings.bus == "redis") if on_sql else None
    provider = build_provider(settings)
    node = Node(settings, store) if settings.bus == "redis" else None
    app.state.node = node
    app.state.store = store
    app.state.provider = provider
    app.state.tools = build_registry(DEMO_TOOLS[name] for name in settings.tool_names)
    app.state.summarizer = Summarizer(store, provider, node.leases if node else None)
    app.state.authenticator = Authenticator.from_settings(settings)
    app.state.rate_limiter = build_rate_limiter(settings)
    writer = DurableWriter(store)
    registry = Registry(
        _services(settings, app, writer), sweep_seconds=settings.orphan_sweep_seconds
    )
    app.state.registry = registry
    if node is not None:
        node.start(registry, app.state.summarizer)  # its upkeep loop sweeps
    else:
        registry.start_sweeping()

    async def drain() -> None:
        await registry.drain(settings.shutdown_drain_seconds)

    undo_signals = drain_before_signals(drain)
    app.state.drain = drain_from_thread(
        asyncio.get_running_loop(), drain, settings.shutdown_drain_seconds + 10
    )
    log.info(
        "storage=%s llm=%s model=%s bus=%s", store.name, provider.name, provider.model, settings.bus
    )
    metrics.describe_service(
        version=app.version, storage=store.name, llm=provider.name, model=provider.model
    )
    settle_heap(settings.gc_young_threshold)
    try:
        yield
    finally:
        undo_signals()
        await registry.close()
        await writer.drain(settings.summary_shutdown_timeout_seconds)
        await app.state.summarizer.drain(settings.summary_shutdown_timeout_seconds)
        if node is not None:
            await node.close()
        if app.state.rate_limiter is not None:
            await app.state.rate_limiter.close()
        await provider.close()
        await store.close()
        metrics.process_stopped()
        await let_go_postgres(pg_hold)
        let_go(sqlite_hold)


def _services(settings: Settings, app: FastAPI, writer: DurableWriter) -> SessionServices:
    node: Node | None = app.state.node
    return SessionServices(
        store=app.state.store,
        writer=writer,
        provider=app.state.provider,
        tools=app.state.tools,
        log=node.log if node is not None else build_log(settings),
        summarizer=app.state.summarizer,
        options=ChatOptions(
            system_prompt=settings.system_prompt,
            max_tool_rounds=settings.llm_max_tool_rounds,
            prices=settings.price_table,
            context_tokens=settings.llm_context_tokens,
        ),
        grace_seconds=settings.resume_grace_seconds,
        leases=node.leases if node is not None else None,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app for these settings (read from the environment when omitted)."""
    app = FastAPI(
        title="Realtime AI conversation backend",
        summary="Streaming model answers over WebSocket, tool calls, stored sessions, summaries.",
        version="0.1.0",
        lifespan=_lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.settings = settings or load_settings()
    install_openapi(app, app.state.settings)
    redact_tokens_in_server_logs()
    install_error_handlers(app)
    # Inside CORS, so a browser can read the 413 too.
    app.add_middleware(BodyLimit)
    if app.state.settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=app.state.settings.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    for module in (health, auth, sessions, events, exports, metrics_route, vocabulary, ws):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app


# Built on import, from the environment (and `.env`), as `uvicorn app.main:app` expects.
app = create_app()
