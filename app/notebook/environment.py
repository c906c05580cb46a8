"""A notebook's settings: the environment, `.env` and Colab secrets; a key for the run."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from dotenv import dotenv_values

# The variables the notebooks read; values are never printed, only where they came from.
CONFIG_NAMES = (
    "DATABASE_URL",
    "SUPABASE_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "LLM_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LLM_MODEL",
    "API_KEY",
    "NGROK_AUTHTOKEN",
    "BACKEND_URL",
)
# Where a setting came from, when it is a Colab secret this notebook may not read.
NO_NOTEBOOK_ACCESS = "a Colab secret without Notebook access (switch it on in the key panel)"


def in_colab() -> bool:
    """Whether this kernel runs in Google Colab."""
    return "google.colab" in sys.modules


def load_environment(root: Path, names: tuple[str, ...] = CONFIG_NAMES) -> dict[str, str]:
    """Fill unset variables from `<root>/.env`, then from Colab's secrets; where each came from.

    A Colab secret that exists but that this notebook may not read is named with
    NO_NOTEBOOK_ACCESS and left unset.
    """
    sources = {name: "environment" for name in names if os.environ.get(name)}
    env_file = root / ".env"
    if env_file.is_file():
        for name, value in dotenv_values(env_file).items():
            # The environment wins over the file, as it does for the app's Settings.
            if value and not os.environ.get(name):
                os.environ[name] = value
                sources[name] = ".env"
    if in_colab():
        for name in names:
            if os.environ.get(name):
                continue
            try:
                value = _colab_secret(name)
            except PermissionError:
                sources[name] = NO_NOTEBOOK_ACCESS
                continue
            if value:
                os.environ[name] = value
                sources[name] = "Colab secrets"
    return {name: sources[name] for name in names if name in sources}


def _colab_secret(name: str) -> str | None:
    """The secret's value, None when there is none; PermissionError when it may not be read."""
    from google.colab import userdata  # type: ignore[import-not-found]

    try:
        value: str | None = userdata.get(name)
    except Exception as exc:  # Colab's secret errors differ between its releases
        if type(exc).__name__ == "NotebookAccessError":
            raise PermissionError(str(exc)) from exc
        if type(exc).__name__ in ("SecretNotFoundError", "TimeoutException"):
            return None
        raise
    return value


def new_api_key() -> str:
    """A random API key for one run."""
    return secrets.token_urlsafe(24)
