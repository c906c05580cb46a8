"""Regenerate docs/analysis_timing.png, analysis_tools.png and analysis_usage.png from a real run.

    .venv/bin/python scripts/analysis_figures.py                        # starts its own server
    .venv/bin/python scripts/analysis_figures.py --url http://127.0.0.1:8000 --api-key KEY

With no URL it serves the app on a throwaway SQLite database with the offline model (paced like
a small model, priced with DEMO_PRICES), holds demo conversations over the WebSocket, then plots
what the REST API returns.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a plain script: the project's own package must be importable before the imports below.
sys.path.insert(0, str(ROOT))

from app.analysis import (  # noqa: E402
    answer_timing,
    generate_demo_sessions,
    load_from_api,
    plot_answer_timing,
    plot_tool_usage,
    plot_usage_by_user,
    tool_usage,
    usage_by_user,
)
from app.background import BackgroundServer  # noqa: E402
from app.config import Settings  # noqa: E402

DOCS = ROOT / "docs"
DEMO_SESSIONS = 15
WORD_DELAY_MS = 25.0
# Made-up prices for the offline model (per million tokens), so the cost panel has bars.
DEMO_PRICES = '{"local-rules": {"prompt": 0.15, "completion": 0.60}}'


def draw(base_url: str, api_key: str | None, *, demo_sessions: int) -> list[Path]:
    """Hold demo conversations when asked, load everything, save the figures; their paths."""
    if demo_sessions:
        generate_demo_sessions(base_url, demo_sessions, api_key=api_key)
    data = load_from_api(base_url, api_key=api_key)
    figures = {
        DOCS / "analysis_timing.png": plot_answer_timing(answer_timing(data.events)),
        DOCS / "analysis_tools.png": plot_tool_usage(tool_usage(data.events)),
        DOCS / "analysis_usage.png": plot_usage_by_user(usage_by_user(data)),
    }
    for path, figure in figures.items():
        figure.savefig(path, dpi=100)
    print(f"{len(data.sessions)} sessions, {len(data.events)} events")
    return list(figures)


def main() -> None:
    """Parse the arguments, start a server when no URL is given, draw the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start one on a throwaway database)")
    parser.add_argument("--api-key", help="the API key of that app, when it needs one")
    parser.add_argument("--sessions", type=int, default=DEMO_SESSIONS, help="demo sessions to hold")
    args = parser.parse_args()
    if args.url:
        paths = draw(args.url, args.api_key, demo_sessions=args.sessions)
    else:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{folder}/figures.db",
                llm_provider="local",
                local_llm_delay_ms=WORD_DELAY_MS,
                llm_prices=DEMO_PRICES,
                api_key=None,
            )
            with BackgroundServer(settings) as server:
                paths = draw(server.url, None, demo_sessions=args.sessions)
    for path in paths:
        print("wrote", path.relative_to(ROOT))


if __name__ == "__main__":
    main()
