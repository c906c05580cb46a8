"""`python -m app`: serve the app with uvicorn on the configured host and port."""

from __future__ import annotations

import logging

import uvicorn

from app.config import load_settings
from app.main import create_app
from app.serving import uvicorn_options


def main() -> None:
    """Load the settings, build the app and serve it."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
