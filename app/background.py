"""Serve the app from a background thread: for notebooks, scripts and tests."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from app.config import Settings
from app.main import create_app
from app.serving import WS_PROTOCOL, uvicorn_options


class BackgroundServer:
    """A uvicorn server on its own thread and event loop; `url` is known once started.

    Given settings, it serves this project's app; given any ASGI app, it serves that.
    """

    def __init__(
        self,
        app: Settings | ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ws: str = WS_PROTOCOL,
        log_level: str = "warning",
    ) -> None:
        asgi = create_app(app) if isinstance(app, Settings) else app
        # This project's app gets the limits `python -m app` serves with; another app, no deflate.
        options = (
            uvicorn_options(app) if isinstance(app, Settings) else {"ws_per_message_deflate": False}
        )
        config = uvicorn.Config(
            asgi,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            **{**options, "ws": ws},
        )
        self._app = asgi
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self.url = ""

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Start serving and wait until the socket is listening."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start; see its log above")
            time.sleep(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Drain the app's answers, then ask the server to finish and wait for it."""
        drain = getattr(getattr(self._app, "state", None), "drain", None)
        if callable(drain) and self._thread.is_alive():
            drain()
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
