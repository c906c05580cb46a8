"""The notebooks' shared first step: work from the project's root, installed, settings loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.notebook.environment import CONFIG_NAMES, in_colab, load_environment


def set_up(root: Path, names: tuple[str, ...] = CONFIG_NAMES) -> dict[str, str]:
    """Install the requirements in Colab, work from `root`, load the settings; print the sources."""
    if in_colab():
        # A fresh Colab runtime has the code but not every requirement (pyngrok, for one).
        requirements = str(root / "requirements.txt")
        pip = [sys.executable, "-m", "pip", "install", "-q", "-r", requirements]
        subprocess.run(pip, check=True)
    os.chdir(root)  # relative paths (.env, data/, exports/) are the project's
    sources = load_environment(root, names)
    print("project:", root, "| Colab" if in_colab() else "")
    for name in names:
        print(f"  {name:26} {sources.get(name, 'not set')}")
    return sources
