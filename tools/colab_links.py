"""The notebooks' shared first cell and the "Open in Colab" badges, from one repository URL.

    .venv/bin/python -m tools.colab_links      # (make colab-links) rewrites what is out of date

The URL is pyproject.toml's `[project.urls] Repository`. Its placeholder (a copy of the project
not published yet) gives the notebooks a blank REPO_URL field: they then clone the repository
they were opened from, or ask for one, and never a made-up one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FIRST_CELL = NOTEBOOKS / "first_cell.py"
# The pages that show a badge per notebook, between these two lines.
BADGE_PAGES = (ROOT / "README.md", ROOT / "docs" / "notebooks.md")
BADGES_START = "<!-- colab-badges: written by tools/colab_links.py -->"
BADGES_END = "<!-- /colab-badges -->"
PLACEHOLDER = "https://github.com/OWNER/REPO"
BRANCH = "main"
_FORM_FIELD = 'REPO_URL = ""  # @param {type:"string"}'
_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository_url() -> str:
    """The project's GitHub repository, from pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        url: str = tomllib.load(file)["project"]["urls"]["Repository"]
    return url.removesuffix(".git").rstrip("/")


def notebook_paths() -> list[Path]:
    """The notebooks, in their order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def first_cell(url: str) -> str:
    """Every notebook's first code cell: notebooks/first_cell.py with the form's default URL."""
    text = FIRST_CELL.read_text(encoding="utf-8")
    if _FORM_FIELD not in text:
        raise ValueError(f"{FIRST_CELL.name} lost its line {_FORM_FIELD!r}")
    default = "" if url == PLACEHOLDER else f"{url}.git"
    return text.replace(_FORM_FIELD, _FORM_FIELD.replace('""', f'"{default}"')).rstrip("\n")


def badges(url: str) -> str:
    """The Markdown block with one "Open in Colab" badge per notebook."""
    path = url.removeprefix("https://github.com/")
    lines = [BADGES_START]
    for notebook in notebook_paths():
        target = f"https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/"
        lines.append(f"- [![Open in Colab]({_BADGE})]({target}{notebook.name}) `{notebook.name}`")
    lines.append(BADGES_END)
    return "\n".join(lines)


def with_badges(page: str, block: str) -> str:
    """The page's text with its badge block replaced by `block`."""
    start, end = page.index(BADGES_START), page.index(BADGES_END) + len(BADGES_END)
    return page[:start] + block + page[end:]


def write() -> list[Path]:
    """Bring the notebooks' first cells and the pages' badges up to date; what changed."""
    url = repository_url()
    changed = []
    for path in notebook_paths():
        notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        cell = next(cell for cell in notebook.cells if cell.cell_type == "code")
        if cell.source != first_cell(url):
            cell.source = first_cell(url)
            nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
            changed.append(path)
    for page in BADGE_PAGES:
        text = page.read_text(encoding="utf-8")
        if with_badges(text, badges(url)) != text:
            page.write_text(with_badges(text, badges(url)), encoding="utf-8")
            changed.append(page)
    return changed


if __name__ == "__main__":
    for path in write():
        print("wrote", path.relative_to(ROOT))
