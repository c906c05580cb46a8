"""schemathesis against the running app (SQLite), open and behind API_KEY: no answer is a 5xx
or breaks the OpenAPI document (status declared, body and headers as described).

Bounded and repeatable: `EXAMPLES` cases per operation and mode (valid and invalid data),
derandomized, so a run is the same cases every time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis import BaseSchema, Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.background import BackgroundServer
from app.main import create_app
from tests.conftest import make_settings

EXAMPLES = 25
KEY = "schemathesis-key"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _document(api_key: str | None) -> dict[str, Any]:
    """The OpenAPI document a server with this key serves (checked against the served one)."""
    return create_app(make_settings(api_key=SecretStr(api_key) if api_key else None)).openapi()


def _schema(api_key: str | None) -> BaseSchema:
    schema = schemathesis.openapi.from_dict(_document(api_key))
    schema.config.generation.update(max_examples=EXAMPLES)
    return schema


def _serve(database: Path, api_key: str | None) -> Iterator[str]:
    settings_ = make_settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        api_key=SecretStr(api_key) if api_key else None,
    )
    with BackgroundServer(settings_) as server:
        served = httpx.get(f"{server.url}/openapi.json").json()
        assert served == json.loads(json.dumps(_document(api_key)))
        yield server.url


@pytest.fixture(scope="module")
def open_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with no API_KEY."""
    yield from _serve(tmp_path_factory.mktemp("open") / "fuzz.db", None)


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server behind API_KEY."""
    yield from _serve(tmp_path_factory.mktemp("keyed") / "fuzz.db", KEY)


# Built at collection from the app itself (schemathesis's lazy loader does not run on pytest 9).
open_schema = _schema(None)
keyed_schema = _schema(KEY)
# What the run sent and got, printed at the end (`-s` shows it): operation mode -> status -> count.
TOTALS: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def totals() -> Iterator[None]:
    """Print how many cases ran and what they were answered."""
    yield
    print(
        f"\nschemathesis: {sum(TOTALS.values())} cases; by (mode, status): {sorted(TOTALS.items())}"
    )


def _run(case: Case[Any], base_url: str, headers: dict[str, str] | None = None) -> None:
    response = case.call_and_validate(base_url=base_url, checks=CHECKS, headers=headers, timeout=30)
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    TOTALS[(mode, response.status_code)] += 1


BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@open_schema.parametrize()
@BOUNDED
def test_the_open_api_never_answers_5xx_or_off_its_schema(case: Case[Any], open_url: str) -> None:
    _run(case, open_url)


@keyed_schema.parametrize()
@BOUNDED
def test_the_keyed_api_never_answers_5xx_or_off_its_schema(case: Case[Any], keyed_url: str) -> None:
    _run(case, keyed_url, {"Authorization": f"Bearer {KEY}"})


@keyed_schema.parametrize()
@BOUNDED
def test_the_keyed_api_without_the_key_answers_within_its_schema(
    case: Case[Any], keyed_url: str
) -> None:
    _run(case, keyed_url)
