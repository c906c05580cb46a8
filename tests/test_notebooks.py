"""Every notebook runs top to bottom, headless, with nothing configured; notebook 01's helpers.

Also the first cell in a stand-in for a fresh Colab runtime (a fake google.colab, Colab's
Jupyter sessions API on a local port, github.com redirected to a local bare repository) and
notebook 02 run twice in one kernel, with a wrong ngrok token (a stand-in agent).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import asyncpg
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from app.notebook import NO_NOTEBOOK_ACCESS, load_environment, schema
from app.store.migrations import head_revision
from tools import colab_links

ROOT = Path(__file__).parents[1]
NOTEBOOKS = ROOT / "notebooks"
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


def read_notebook(name: str) -> nbformat.NotebookNode:
    """A notebook of notebooks/, as committed."""
    notebook: nbformat.NotebookNode
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)  # type: ignore[no-untyped-call]
    return notebook


async def execute(
    notebook: nbformat.NotebookNode, folder: Path = NOTEBOOKS, *, allow_errors: bool = False
) -> nbformat.NotebookNode:
    """Execute a notebook in `folder`; a cell error fails unless allowed, as does the time limit."""
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
    )
    await asyncio.wait_for(client.async_execute(), TIMEOUT_SECONDS)
    return notebook


async def run_notebook(name: str) -> nbformat.NotebookNode:
    """Execute a notebook from its own folder; any cell error fails, as does the time limit."""
    return await execute(read_notebook(name))


def code_cell(source: str) -> nbformat.NotebookNode:
    """A code cell to run beside a notebook's own."""
    cell: nbformat.NotebookNode = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]
    return cell


def cell_text(cell: nbformat.NotebookNode) -> str:
    """What one cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def text_output(notebook: nbformat.NotebookNode) -> str:
    """Everything the cells printed or displayed as text."""
    return "\n".join(cell_text(cell) for cell in notebook.cells)


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


# A stand-in ngrok agent that refuses its token the way ngrok does: repeating it in its error.
FAKE_NGROK = """\
import sys
token = sys.argv[sys.argv.index("--authtoken") + 1] if "--authtoken" in sys.argv else ""
print('t=2026-01-01T00:00:00+0000 lvl=eror msg="failed to start" '
      f'err="authentication failed: Your authtoken: {token}"', flush=True)
sys.exit(1)
"""
WRONG_NGROK_TOKEN = "wrong-ngrok-token-4f1c"


@pytest.fixture
def fake_ngrok(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """NGROK_PATH names the stand-in agent; its config goes under the test's own folder."""
    agent = tmp_path / "ngrok"
    agent.write_text(f"#!{sys.executable}\n{FAKE_NGROK}")
    agent.chmod(0o755)
    monkeypatch.setenv("NGROK_PATH", str(agent))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.mark.notebook
async def test_run_server_notebook_runs_twice_in_one_kernel_and_never_prints_the_key(
    clean_env: str, fake_ngrok: None, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    save_key = f"with open({str(keys)!r}, 'a') as file:\n    file.write(API_KEY + '\\n')"
    wrong_token = f"os.environ['NGROK_AUTHTOKEN'] = {WRONG_NGROK_TOKEN!r}"
    left = (
        "import threading\n"
        "left = [t.name for t in threading.enumerate() if t.name == 'uvicorn']\n"
        "print(f'servers left: {left}')\n"
        "print(f'kernel Python {sys.version_info[:2]}')"
    )
    # The first run stops before its stop cell; the second, with a wrong token, runs it all.
    notebook = read_notebook("02_run_server.ipynb")
    first_run = notebook.cells[:-1]
    second_run = read_notebook("02_run_server.ipynb").cells
    notebook.cells = [
        *first_run,
        code_cell(save_key),
        code_cell(wrong_token),
        *second_run,
        code_cell(save_key),
        code_cell(left),
    ]
    printed = text_output(await execute(notebook))
    assert "NGROK_AUTHTOKEN is not set" in printed
    assert "[tool call] get_current_time" in printed and "[tool call] check_inventory" in printed
    assert "Bob sees: []" in printed and "Bob asks for Ann's session: 404" in printed
    # The second run stopped what the first left running before starting its own, and its own
    # at the end.
    (settings_again,) = [cell for cell in second_run if "configured = Settings()" in cell.source]
    first_stopped = cell_text(settings_again)
    assert "stopped the sign-in demo server" in first_stopped
    assert "stopped the server at http://127.0.0.1:" in first_stopped
    assert printed.count("stopped the sign-in demo server") == 2
    assert printed.count("stopped the server at http://127.0.0.1:") == 2
    assert "servers left: []" in printed
    # The kernel is this interpreter's (make test-notebooks-py313 tests on Python 3.13).
    assert f"kernel Python {sys.version_info[:2]}" in printed
    # The wrong token is reported, without repeating it, and the run went on locally.
    assert "ngrok could not open a tunnel (PyngrokNgrokError)" in printed
    assert "authentication failed" in printed and WRONG_NGROK_TOKEN not in printed
    first_key, second_key = keys.read_text().split()
    assert first_key != second_key
    assert first_key not in printed and second_key not in printed
    assert "?token=<API_KEY>" in printed


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
    assert set(report.tables["table_name"]) == {
        "alembic_version",
        "sessions",
        "session_events",
        "session_leases",
    }
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
        {"table_name": "session_leases", "rows": 0},
        {"table_name": "sessions", "rows": 0},
    ]
    assert report.policies.empty and "sessions_start_time_idx" in set(report.indexes["index_name"])


def test_first_cells_and_colab_badges_come_from_the_one_repository_url() -> None:
    url = colab_links.repository_url()
    for path in colab_links.notebook_paths():
        notebook = read_notebook(path.name)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert first.source == colab_links.first_cell(url), f"{path.name}: make colab-links"
    for page in colab_links.BADGE_PAGES:
        assert colab_links.badges(url) in page.read_text(), f"{page.name}: make colab-links"
    badges = colab_links.badges(url)
    assert badges.count("colab.research.google.com/github/") == len(colab_links.notebook_paths())
    # The placeholder of an unpublished copy is never a default to clone.
    assert 'REPO_URL = ""' in colab_links.first_cell(colab_links.PLACEHOLDER)
    published = colab_links.first_cell("https://github.com/acme/backend")
    assert 'REPO_URL = "https://github.com/acme/backend.git"' in published


# google.colab's secrets, as far as the notebooks use them: FAKE_SECRET_<NAME> holds a value,
# FAKE_NO_ACCESS names secrets that exist without notebook access.
FAKE_USERDATA = """\
import os


class SecretNotFoundError(Exception):
    pass


class NotebookAccessError(Exception):
    pass


def get(key):
    if key in os.environ.get("FAKE_NO_ACCESS", "").split(","):
        raise NotebookAccessError(f"Notebook does not have access to secret {key}")
    if f"FAKE_SECRET_{key}" not in os.environ:
        raise SecretNotFoundError(f"Secret {key} does not exist.")
    return os.environ[f"FAKE_SECRET_{key}"]
"""


def fake_google_colab(folder: Path) -> Path:
    """A google.colab package with userdata, on the returned path."""
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "userdata.py").write_text(FAKE_USERDATA)
    return folder


class FakeColab:
    """A fresh Colab runtime's stand-in: what the kernel sees, where the notebook came from."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.content = tmp_path / "content"
        self.content.mkdir()
        self._monkeypatch = monkeypatch
        self.notebook_path = ""
        path = os.pathsep.join(
            filter(None, [str(fake_google_colab(tmp_path / "fake")), os.environ.get("PYTHONPATH")])
        )
        monkeypatch.setenv("PYTHONPATH", path)
        # Colab's kernel has google.colab imported before the first cell runs.
        startup = tmp_path / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-colab.py").write_text("import google.colab\n")
        monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
        for name in ("REPO_URL", "COLAB_JUPYTER_IP", "KMP_TARGET_PORT", "FAKE_NO_ACCESS"):
            monkeypatch.delenv(name, raising=False)
        self._github = tmp_path / "github"
        # git fetches https://github.com/... from local bare repositories instead.
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{self._github}/.insteadOf")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/")

    def publish(self, owner_repo: str, branch: str) -> None:
        """A GitHub repository (a local bare one) holding this project's app/ on `branch`."""
        work = self._github.parent / "published"
        shutil.copytree(ROOT / "app", work / "app", ignore=shutil.ignore_patterns("__pycache__"))
        # Colab installs requirements.txt; this kernel has them all already.
        (work / "requirements.txt").write_text("# installed already\n")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run([*git, "init", "-q", "-b", branch, str(work)], check=True)
        subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
        subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "published"], check=True)
        bare = self._github / f"{owner_repo}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)

    @contextlib.contextmanager
    def sessions_api(self, notebook_path: str) -> Iterator[None]:
        """Colab's Jupyter server on a local port, naming the notebook this kernel runs."""
        body = json.dumps([{"name": "notebook.ipynb", "path": notebook_path}]).encode()

        class Sessions(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/api/sessions" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Sessions)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self._monkeypatch.setenv("COLAB_JUPYTER_IP", "127.0.0.1")
        self._monkeypatch.setenv("KMP_TARGET_PORT", str(server.server_address[1]))
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    async def run_first_cell(self) -> tuple[str, nbformat.NotebookNode]:
        """The first cell in the runtime's /content, then one printing ROOT; the first's output."""
        notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
        first = colab_links.first_cell(colab_links.PLACEHOLDER)
        notebook.cells = [code_cell(first), code_cell("print('ROOT is', ROOT)")]
        await execute(notebook, self.content, allow_errors=True)
        return text_output(notebook), notebook.cells[0]


@pytest.fixture
def fake_colab(clean_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeColab:
    """A stand-in for a fresh Colab runtime, the project not cloned yet."""
    return FakeColab(tmp_path, monkeypatch)


def opened_from(url: str) -> str:
    """The sessions API's `path` of a notebook Colab opened from `url`."""
    return "fileId=" + quote(url, safe="")


@pytest.mark.notebook
async def test_colab_first_cell_clones_the_repository_and_branch_it_was_opened_from(
    fake_colab: FakeColab,
) -> None:
    fake_colab.publish("acme/backend", "feature")
    origin = "https://github.com/acme/backend/blob/feature/notebooks/01_setup_database.ipynb"
    with fake_colab.sessions_api(opened_from(origin)):
        printed, first = await fake_colab.run_first_cell()
    assert "cloning https://github.com/acme/backend.git (branch feature)" in printed
    assert f"ROOT is {fake_colab.content / 'backend'}" in printed
    assert "| Colab" in printed and "DATABASE_URL               environment" in printed
    head = ["git", "-C", str(fake_colab.content / "backend"), "branch", "--show-current"]
    assert subprocess.run(head, capture_output=True, text=True).stdout.strip() == "feature"


@pytest.mark.notebook
async def test_colab_first_cell_takes_repo_url_from_a_secret_and_reports_unreadable_ones(
    fake_colab: FakeColab, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_colab.publish("acme/fork", "main")
    monkeypatch.setenv("FAKE_SECRET_REPO_URL", "https://github.com/acme/fork.git")
    monkeypatch.setenv("FAKE_NO_ACCESS", "OPENAI_API_KEY")
    printed, _ = await fake_colab.run_first_cell()
    assert f"ROOT is {fake_colab.content / 'fork'}" in printed
    assert f"OPENAI_API_KEY             {NO_NOTEBOOK_ACCESS}" in printed
    assert "NGROK_AUTHTOKEN            not set" in printed


@pytest.mark.notebook
async def test_colab_first_cell_without_a_known_repository_stops_with_a_message(
    fake_colab: FakeColab,
) -> None:
    with fake_colab.sessions_api(opened_from("1AbCdEfGhIjKlMnOp")):  # a notebook on Drive
        printed, first = await fake_colab.run_first_cell()
    (error,) = [output for output in first.outputs if output.output_type == "error"]
    assert error.ename == "SetUpStopped"
    message = "\n".join(error.traceback)
    assert "fill in the REPO_URL field of this cell" in message and "Traceback" not in message
    assert "cloning" not in printed and "ROOT is None" in printed


def test_a_colab_secret_without_notebook_access_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(fake_google_colab(tmp_path)))
    importlib.import_module("google.colab")  # what marks a Colab kernel

    monkeypatch.setenv("FAKE_SECRET_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("FAKE_NO_ACCESS", "OPENAI_API_KEY")
    for name in ("LLM_MODEL", "OPENAI_API_KEY", "API_KEY"):
        monkeypatch.delenv(name, raising=False)
    try:
        sources = load_environment(tmp_path, ("LLM_MODEL", "OPENAI_API_KEY", "API_KEY"))
    finally:
        for name in [name for name in sys.modules if name.startswith("google.colab")]:
            del sys.modules[name]
    assert sources == {"LLM_MODEL": "Colab secrets", "OPENAI_API_KEY": NO_NOTEBOOK_ACCESS}
    assert os.environ["LLM_MODEL"] == "gpt-4o-mini" and "OPENAI_API_KEY" not in os.environ
