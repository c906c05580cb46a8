"""`python -m app`: serve the app with uvicorn on HOST and PORT, in WORKERS processes."""

from __future__ import annotations

import logging

import uvicorn

from app import metrics
from app.config import load_settings
from app.main import create_app
from app.serving import uvicorn_options


def main() -> None:
    """Load the settings, build the app and serve it; refuse WORKERS that cannot share state."""
    settings = load_settings()
    problem = settings.several_processes_problem()
    if problem is not None:
        raise SystemExit(f"Invalid configuration: {problem}")
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    # Workers sum their metrics through one folder; set before they start and import it.
    metrics.share_between_workers(settings.workers)
    # Each worker process builds its own app from the environment, as the first one did.
    target = "app.main:create_app" if settings.workers > 1 else create_app(settings)
    uvicorn.run(
        target,
        factory=settings.workers > 1,
        workers=settings.workers if settings.workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
