# @title Set-up: the project, its requirements and its settings
# Every notebook's first cell (tools/colab_links.py copies notebooks/first_cell.py here; edit
# that file). Inside the project it only calls app.notebook.set_up. In a fresh Colab runtime it
# first clones the project: from REPO_URL set as an environment variable or a Colab secret, else
# from the GitHub repository and branch this notebook was opened from, else from the field below.
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

REPO_URL = ""  # @param {type:"string"}


class SetUpStopped(Exception):
    """Stops "Run all" with its message alone: IPython shows _render_traceback_, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def configured_repo_url() -> str:
    """REPO_URL from the environment or Colab's secrets ("" when neither has it)."""
    from google.colab import userdata

    try:
        return os.environ.get("REPO_URL") or userdata.get("REPO_URL") or ""
    except Exception as exc:  # Colab's secret errors vary by release; missing is the usual one
        if type(exc).__name__ == "NotebookAccessError":
            print("The Colab secret REPO_URL exists, but this notebook has no access to it.")
        return ""


def github_origin() -> tuple[str, str] | None:
    """The clone URL and branch of the GitHub notebook this Colab kernel was opened from."""
    host = os.environ.get("COLAB_JUPYTER_IP")
    port = os.environ.get("KMP_TARGET_PORT", "9000")
    if not host:
        return None
    try:  # Colab's Jupyter server names the notebook it runs, e.g. fileId=https%3A%2F%2Fgithub...
        with urllib.request.urlopen(f"http://{host}:{port}/api/sessions", timeout=5) as response:
            file_id = urllib.parse.unquote(json.load(response)[0]["path"])
    except (OSError, ValueError, LookupError, TypeError):
        return None
    parts = file_id.removeprefix("fileId=").removeprefix("https://github.com/").split("/")
    if not file_id.startswith("fileId=https://github.com/") or len(parts) < 5 or parts[2] != "blob":
        return None
    return f"https://github.com/{parts[0]}/{parts[1]}.git", parts[3]


ROOT = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "app").is_dir()), None)
if ROOT is None and "google.colab" in sys.modules:
    url, branch = configured_repo_url(), ""
    if not url:
        url, branch = github_origin() or (REPO_URL.strip(), "")
    if not url:
        raise SetUpStopped(
            "Which repository holds this project? This notebook was not opened from GitHub,\n"
            "so fill in the REPO_URL field of this cell (or add a Colab secret REPO_URL) with\n"
            "its Git URL, e.g. https://github.com/<owner>/<repo>.git, and run it again."
        )
    ROOT = Path.cwd() / Path(urllib.parse.urlparse(url).path.rstrip("/")).stem
    shown = url.rsplit("@", 1)[-1]  # a token in the URL stays out of the saved output
    if not ROOT.exists():
        print("cloning", shown, f"(branch {branch})" if branch else "")
        clone = ["git", "clone", "--depth", "1", *(["--branch", branch] if branch else []), url]
        if subprocess.run([*clone, str(ROOT)]).returncode != 0:
            raise SetUpStopped(f"git could not clone {shown} (its message is above).")
if ROOT is None:
    raise SetUpStopped("Start this notebook inside the project: no folder above holds app/.")
sys.path.insert(0, str(ROOT))
from app.notebook import set_up  # noqa: E402

sources = set_up(ROOT)
