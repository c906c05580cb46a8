"""Every notebook runs top to bottom, headless, with nothing configured; notebook 01's helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from app.analysis import schema
from app.store.migrations import head_revision

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
SQL = Path(__file__).parents[1] / "sql"
TIMEOUT_SECONDS = 300
# Anything that would reach outside or change behaviour: unset for a fresh-machine run.
UNSET = (
    "API_KEY",
    "BACKEND_URL",
    "DATABASE_URL",
    "EXPORTS_DIR",
    "LLM_PROVIDER",
    "LOCAL_LLM_DELAY_MS",
    "NGROK_AUTHTOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SUPABASE_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_URL",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A kernel environment with nothing configured but a fresh SQLite DATABASE_URL."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'notebook.db'}"
    # The kernel inherits this process's environment.
    monkeypatch.setenv("DATABASE_URL", url)
    return url


async def run_notebook(name: str) -> nbformat.NotebookNode:
    """Execute a notebook from its own folder; any cell error fails, as does the time limit."""
    notebook: nbformat.NotebookNode
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    await asyncio.wait_for(client.async_execute(), TIMEOUT_SECONDS)
    return notebook


def text_output(notebook: nbformat.NotebookNode) -> str:
    """Everything the cells printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def images(notebook: nbformat.NotebookNode) -> int:
    """How many PNG images the cells displayed."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


def test_notebooks_are_committed_without_outputs() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.notebook
async def test_setup_database_notebook_on_embedded_sqlite(clean_env: str) -> None:
    notebook = await run_notebook("01_setup_database.ipynb")
    printed = text_output(notebook)
    assert "No PostgreSQL DATABASE_URL" in printed and "backend: sqlite" in printed
    assert f"schema revision: {head_revision()}" in printed
    assert "session_events_session_id_id_idx" in printed


@pytest.mark.notebook
@pytest.mark.postgres
async def test_setup_database_notebook_applies_the_schema_to_postgres(
    clean_env: str, fresh_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_pg_url)
    notebook = await run_notebook("01_setup_database.ipynb")
    printed = text_output(notebook)
    assert "Applied sql/schema.sql" in printed and "backend: postgresql" in printed
    assert f"schema revision: {head_revision()}" in printed
    conn = await asyncpg.connect(fresh_pg_url)
    try:
        tables = {row["tablename"] for row in await conn.fetch("select tablename from pg_tables")}
    finally:
        await conn.close()
    assert {"sessions", "session_events"} <= tables


@pytest.mark.notebook
async def test_run_server_notebook_holds_a_conversation(clean_env: str) -> None:
    notebook = await run_notebook("02_run_server.ipynb")
    printed = text_output(notebook)
    assert "NGROK_AUTHTOKEN is not set" in printed and "API key for this run:" in printed
    assert "[tool call] get_current_time" in printed and "[tool call] check_inventory" in printed
    assert "Tools used:" in printed and "stopped" in printed
    assert "Bob sees: []" in printed and "Bob asks for Ann's session: 404" in printed


@pytest.mark.notebook
async def test_analyze_sessions_notebook_makes_plots_and_exports(
    clean_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORTS_DIR", str(tmp_path / "exports"))
    notebook = await run_notebook("03_analyze_sessions.ipynb")
    printed = text_output(notebook)
    assert "No sessions yet" in printed and "8 sessions" in printed
    assert images(notebook) == 4
    exported = {path.name for path in (tmp_path / "exports").iterdir()}
    assert {"sessions.parquet", "events.csv", "answer_timing.parquet"} <= exported
    sessions = pd.read_parquet(tmp_path / "exports" / "sessions.parquet")
    assert len(sessions) == 8 and sessions["tools_used"].str.len().gt(0).any()
    # The notebook's demo prices give every answer a cost, summed per user.
    usage = pd.read_parquet(tmp_path / "exports" / "usage_by_user.parquet")
    assert usage["answers"].sum() > 0 and usage["cost_usd"].gt(0).all()


def test_database_urls_print_without_password_and_connect_with_libpq_names() -> None:
    url = "postgresql+asyncpg://app:pw@db.example.com:6543/postgres?ssl=require"
    assert (
        schema.redacted(url)
        == "postgresql+asyncpg://app:***@db.example.com:6543/postgres?ssl=require"
    )
    assert (
        schema.libpq_dsn(url) == "postgresql://app:pw@db.example.com:6543/postgres?sslmode=require"
    )
    assert schema.backend_of("sqlite:///x.db") == "sqlite"
    assert schema.backend_of("postgres://h/db") == "postgresql"


@pytest.mark.postgres
async def test_schema_is_applied_and_described_on_postgres(fresh_pg_url: str) -> None:
    url = fresh_pg_url
    for _ in range(2):  # idempotent
        schema.apply_sql_file(url, SQL / "schema.sql")
    report = schema.describe_database(url)
    assert report.backend == "postgresql"
    assert set(report.tables["table_name"]) == {"alembic_version", "sessions", "session_events"}
    assert schema.upgrade_to_head(url) == head_revision()
    assert "session_events_session_id_id_idx" in set(report.indexes["index_name"])
    if (SQL / "supabase_local.sql").exists():
        schema.apply_sql_file(url, SQL / "supabase_local.sql")
        schema.apply_sql_file(url, SQL / "schema.sql")
        assert schema.missing_supabase_parts(url) == []
        report = schema.describe_database(url)
        assert report.tables["rls_enabled"].all() and len(report.policies) >= 2


def test_tables_are_created_and_described_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    assert schema.upgrade_to_head(url) == head_revision()
    report = schema.describe_database(url)
    assert report.tables.to_dict("records") == [
        {"table_name": "alembic_version", "rows": 1},
        {"table_name": "session_events", "rows": 0},
        {"table_name": "sessions", "rows": 0},
    ]
    assert report.policies.empty and "sessions_start_time_idx" in set(report.indexes["index_name"])
