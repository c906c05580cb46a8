"""Dependencies shared by the routes: settings, store, provider (sign-in is in auth.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.chat.registry import Registry
from app.chat.summarizer import Summarizer
from app.chat.tools import ToolRegistry
from app.cluster.node import Node
from app.config import Settings
from app.llm.base import Provider
from app.store.base import Store


def get_settings(conn: HTTPConnection) -> Settings:
    """The settings the app was built with."""
    settings: Settings = conn.app.state.settings
    return settings


def get_store(conn: HTTPConnection) -> Store:
    """The opened store."""
    store: Store = conn.app.state.store
    return store


def get_provider(conn: HTTPConnection) -> Provider:
    """The model provider."""
    provider: Provider = conn.app.state.provider
    return provider


def get_tools(conn: HTTPConnection) -> ToolRegistry:
    """The tools offered to the model."""
    tools: ToolRegistry = conn.app.state.tools
    return tools


def get_summarizer(conn: HTTPConnection) -> Summarizer:
    """The summary builder, whose background runs shutdown waits for."""
    summarizer: Summarizer = conn.app.state.summarizer
    return summarizer


def get_registry(conn: HTTPConnection) -> Registry:
    """The live sessions of this process."""
    registry: Registry = conn.app.state.registry
    return registry


def get_node(conn: HTTPConnection) -> Node | None:
    """This process as one of several (REDIS_URL), or None for a single process."""
    node: Node | None = conn.app.state.node
    return node


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
ProviderDep = Annotated[Provider, Depends(get_provider)]
SummarizerDep = Annotated[Summarizer, Depends(get_summarizer)]
NodeDep = Annotated[Node | None, Depends(get_node)]
