"""Server memory under over-limit traffic, before and after the limits (issue 9, item 6).

Workloads, each against a fresh server process on SQLite, RSS read with psutil:
- frames: 20 clients each send one 16 MiB text frame, offering permessage-deflate (16 KB on the
  wire where the server accepts deflate);
- body: one 100 MB `POST /events` (a valid event, its padding in `metadata`), Content-Length set.
Servers: the baseline tree (`--baseline-ref`, served as plain `uvicorn --factory
app.main:create_app` with uvicorn's defaults), and this tree as `python -m app`, as
`uvicorn app.main:app` with the documented flags, and as plain `uvicorn app.main:app`.

    .venv/bin/python -m bench.limits_memory [--baseline-ref 06e49b4]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import httpx

from app.serving import uvicorn_flags
from tests.conftest import make_settings
from tests.flood import MiB, padded_event, peak_rss, raw_exchange, request_head, send_big_frame
from tests.processes import ROOT, serving

CLIENTS = 20
UVICORN = [sys.executable, "-m", "uvicorn", "--port", "{port}", "--log-level", "warning"]


async def _frames(base: str) -> str:
    codes = await asyncio.gather(
        *[
            send_big_frame(base, f"bomb-{n}", 16 * MiB, compression="deflate")
            for n in range(CLIENTS)
        ]
    )
    return f"close codes {sorted(set(map(str, codes)))}"


async def _body(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        await http.post("/sessions", json={"session_id": "s1"})
    head = request_head("/events", {"Content-Length": str(100 * MiB)})
    status, sent = await raw_exchange(base, head, padded_event("s1", 100 * MiB))
    return f"status {status} after {sent / MiB:.0f} MiB sent"


def _measure(command: list[str], tree: Path, workload: str) -> tuple[float, float, str]:
    with (
        tempfile.TemporaryDirectory() as cwd,
        serving(command, Path(cwd), PYTHONPATH=str(tree)) as (process, base),
    ):
        with peak_rss(process.pid) as rss:
            outcome = asyncio.run(_frames(base) if workload == "frames" else _body(base))
        return rss[0] / MiB, (rss[1] - rss[0]) / MiB, outcome


def _baseline_tree(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    """Run every workload on every server and print RSS growth with the ratio to the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default="06e49b4", help="git ref before the limits")
    args = parser.parse_args()
    flags = uvicorn_flags(make_settings())
    with tempfile.TemporaryDirectory() as scratch:
        base_tree = _baseline_tree(args.baseline_ref, Path(scratch))
        servers = [
            (
                f"baseline {args.baseline_ref}: uvicorn defaults",
                base_tree,
                [*UVICORN, "--factory", "app.main:create_app"],
            ),
            ("python -m app", ROOT, [sys.executable, "-m", "app"]),
            ("uvicorn app.main:app + flags", ROOT, [*UVICORN, "app.main:app", *flags]),
            ("uvicorn app.main:app, no flags", ROOT, [*UVICORN, "app.main:app"]),
        ]
        for workload in ("frames", "body"):
            print(
                f"\n{workload}: "
                + (
                    f"{CLIENTS} clients x one 16 MiB frame, deflate offered"
                    if workload == "frames"
                    else "one 100 MB POST /events, Content-Length set"
                )
            )
            baseline = None
            for name, tree, command in servers:
                start, growth, outcome = _measure(command, tree, workload)
                baseline = growth if baseline is None else baseline
                ratio = growth / baseline if baseline else float("nan")
                print(
                    f"  {name:<40} RSS {start:6.0f} MiB  peak +{growth:7.1f} MiB"
                    f"  ({ratio:5.3f} of baseline)  {outcome}"
                )


if __name__ == "__main__":
    main()
