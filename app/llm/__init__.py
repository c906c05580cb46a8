"""Model providers behind one streaming interface."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.llm.base import Provider


def _local(settings: Settings) -> Provider:
    from app.llm.local import LocalProvider

    return LocalProvider.from_settings(settings)


def _openai(settings: Settings) -> Provider:
    from app.llm.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider.from_settings(settings)


PROVIDERS: dict[str, Callable[[Settings], Provider]] = {"local": _local, "openai": _openai}


def build_provider(settings: Settings) -> Provider:
    """Make the model provider the settings ask for."""
    return PROVIDERS[settings.provider](settings)
