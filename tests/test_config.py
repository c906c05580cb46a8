"""Settings: defaults, URL normalisation, clear errors naming the variable."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from app.config import Settings, load_settings


def test_defaults_are_sqlite_and_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "OPENAI_API_KEY", "LLM_PROVIDER", "MAX_MESSAGE_CHARS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.sql_url.render_as_string() == "sqlite+aiosqlite:///./data/realtime.db"
    assert settings.storage_backend == "sql"
    assert settings.provider == "local"
    assert settings.max_message_chars == 8000


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgresql://u:p@db.example.co:5432/postgres", "postgresql+asyncpg"),
        ("postgres://u:p@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
        ("sqlite:///./x.db", "sqlite+aiosqlite"),
    ],
)
def test_plain_database_urls_get_the_async_driver(raw: str, driver: str) -> None:
    assert Settings(_env_file=None, database_url=raw).sql_url.drivername == driver


def test_libpq_sslmode_becomes_asyncpg_ssl() -> None:
    url = Settings(_env_file=None, database_url="postgresql://u:p@h/db?sslmode=require").sql_url
    assert dict(url.query) == {"ssl": "require"}


def test_openai_key_selects_the_openai_provider() -> None:
    assert Settings(_env_file=None, openai_api_key=SecretStr("sk-test")).provider == "openai"
    local = Settings(_env_file=None, openai_api_key=SecretStr("k"), llm_provider="local")
    assert local.provider == "local"


def test_supabase_is_chosen_only_without_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", "https://x.supabase.co")
    monkeypatch.setenv("SUPABASE_KEY", "service")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings(_env_file=None).storage_backend == "supabase"
    monkeypatch.setenv("DATABASE_URL", "postgresql://h/db")
    assert Settings(_env_file=None).storage_backend == "sql"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
        ("DATABASE_URL", "mysql://h/db", "DATABASE_URL"),
        ("LLM_PROVIDER", "gpt", "LLM_PROVIDER"),
        ("MAX_MESSAGE_CHARS", "-3", "MAX_MESSAGE_CHARS"),
    ],
)
def test_a_wrong_setting_fails_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as failure:
        load_settings()
    assert named in str(failure.value)


def test_env_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    env = tmp_path / ".env"
    env.write_text("MAX_MESSAGE_CHARS=123\nAPI_KEY=from-file\n")
    monkeypatch.delenv("API_KEY", raising=False)
    settings = Settings(_env_file=env)
    assert settings.max_message_chars == 123
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "from-file"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("variable", "value"),
    [("AUTH_JWT_SECRET", "short"), ("AUTH_JWKS_URL", "ftp://x/jwks.json")],
)
def test_a_weak_jwt_secret_or_a_jwks_url_that_is_no_url_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit, match=variable):
        load_settings()


@pytest.mark.timeout(10)
def test_blank_sign_in_settings_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTH_JWT_SECRET", "AUTH_JWKS_URL", "AUTH_JWT_AUDIENCE", "RATE_LIMIT_PER_MINUTE"):
        monkeypatch.setenv(name, "")
    settings = Settings(_env_file=None)
    assert not settings.user_sign_in
    assert settings.auth_jwt_audience is None and settings.rate_limit_per_minute is None
