"""What the notebooks need around the app: settings and Colab secrets, the shared set-up, an
ngrok tunnel, what a run started (stopped by the next run), database set-up, loading the
analysis frames, and conversations from a cell.

The server itself runs with app.background.BackgroundServer.
"""

from app.notebook.blocking import run_blocking
from app.notebook.bootstrap import set_up
from app.notebook.demo import DEMO_SCRIPTS, StreamPrinter, chat, generate_demo_sessions
from app.notebook.environment import (
    CONFIG_NAMES,
    NO_NOTEBOOK_ACCESS,
    in_colab,
    load_environment,
    new_api_key,
)
from app.notebook.load import load_from_api, load_from_database, load_from_export
from app.notebook.running import stop_started, track
from app.notebook.tunnel import Tunnel, open_tunnel

__all__ = [
    "CONFIG_NAMES",
    "DEMO_SCRIPTS",
    "NO_NOTEBOOK_ACCESS",
    "StreamPrinter",
    "Tunnel",
    "chat",
    "generate_demo_sessions",
    "in_colab",
    "load_environment",
    "load_from_api",
    "load_from_database",
    "load_from_export",
    "new_api_key",
    "open_tunnel",
    "run_blocking",
    "set_up",
    "stop_started",
    "track",
]
