"""Settings: environment variables and `.env`, typed and validated once at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from app.pricing import PriceTable, parse_prices

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/realtime.db"

# Plain URLs as hosts print them, mapped to the async drivers the app uses.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def to_async_url(raw: str) -> URL:
    """Parse a database URL and point it at the async driver (asyncpg or aiosqlite)."""
    try:
        url = make_url(raw.strip())
    except ArgumentError as exc:
        raise ValueError(f"not a database URL ({exc})") from exc
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database '{url.drivername}'; use postgresql://… or sqlite+aiosqlite:///…"
        )
    url = url.set(drivername=driver)
    if driver == "postgresql+asyncpg" and "sslmode" in url.query:
        # libpq spells it sslmode (Supabase prints it so); asyncpg wants ssl.
        query = dict(url.query)
        query["ssl"] = query.pop("sslmode")
        url = url.set(query=query)
    return url


class Settings(BaseSettings):
    """Every setting of the service; see `.env.example` for each one's meaning."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str | None = None
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY"),
    )

    llm_provider: Literal["local", "openai"] | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_max_tool_rounds: int = Field(default=5, ge=1, le=20)
    llm_temperature: float | None = Field(default=None, ge=0, le=2)
    system_prompt: str = (
        "You are a helpful, concise assistant. Use the tools when they help answer."
    )
    local_llm_delay_ms: float = Field(default=0.0, ge=0, le=5000)
    llm_prices: str = ""
    # The most history one model call carries; older turns are folded into a summary.
    llm_context_tokens: int = Field(default=16000, ge=256, le=10_000_000)

    api_key: SecretStr | None = None
    auth_jwt_secret: SecretStr | None = None
    auth_jwks_url: str | None = None
    auth_jwt_audience: str | None = "authenticated"
    auth_jwt_issuer: str | None = None
    supabase_anon_key: str | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    redis_url: str | None = None
    redis_prefix: str = Field(default="realtime", min_length=1, max_length=200)
    session_lease_seconds: float = Field(default=15.0, ge=1, le=3600)
    stream_replay_seconds: float = Field(default=300.0, ge=1, le=86_400)
    workers: int = Field(default=1, ge=1, le=64)
    max_message_chars: int = Field(default=8000, ge=1, le=1_000_000)
    summary_shutdown_timeout_seconds: float = Field(default=10.0, ge=0)
    db_pool_size: int = Field(default=10, ge=1, le=200)

    resume_grace_seconds: float = Field(default=0.0, ge=0, le=86_400)
    ws_outbox_frames: int = Field(default=1000, ge=1, le=1_000_000)
    ws_delta_flush_ms: float = Field(default=25.0, ge=0, le=1000)
    ws_delta_flush_max_ms: float = Field(default=100.0, ge=0, le=5000)
    ws_per_message_deflate: bool = False
    gc_young_threshold: int = Field(default=10_000, ge=0, le=10_000_000)
    shutdown_drain_seconds: float = Field(default=5.0, ge=0, le=600)
    orphan_sweep_seconds: float = Field(default=30.0, gt=0, le=86_400)

    cors_origins: str = ""
    # Comma-separated names of the tools the model is offered (blank: none).
    tools: str = "get_current_time,check_inventory"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        """Reject a malformed DATABASE_URL at start-up, naming what is wrong."""
        if value is None or not value.strip():
            return None
        return to_async_url(value).render_as_string(hide_password=False)

    @field_validator("auth_jwt_secret")
    @classmethod
    def _check_jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """A short HS256 secret can be guessed offline from any one token."""
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (Supabase's JWT secret is longer)")
        return value

    @field_validator("tools")
    @classmethod
    def _check_tools(cls, value: str) -> str:
        """Every name must be a known tool; a typo stops the start instead of hiding a tool."""
        from app.chat.demo_tools import DEMO_TOOLS  # here: app.chat imports the settings

        unknown = [name for name in _names(value) if name not in DEMO_TOOLS]
        if unknown:
            raise ValueError(f"unknown tool {', '.join(unknown)}; known: {', '.join(DEMO_TOOLS)}")
        return value

    @field_validator("llm_prices")
    @classmethod
    def _check_llm_prices(cls, value: str) -> str:
        """A price table that cannot be read stops the start, naming what is wrong."""
        parse_prices(value)
        return value

    @field_validator("auth_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        """The keys are fetched over HTTP(S); anything else is a typo."""
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(
                "must be an https:// URL, e.g. https://<ref>.supabase.co/auth/v1/.well-known/jwks.json"
            )
        return value

    @field_validator(
        "llm_provider",
        "database_url",
        "supabase_url",
        "supabase_service_role_key",
        "openai_api_key",
        "openai_base_url",
        "api_key",
        "llm_temperature",
        "auth_jwt_secret",
        "auth_jwks_url",
        "auth_jwt_audience",
        "auth_jwt_issuer",
        "supabase_anon_key",
        "rate_limit_per_minute",
        "redis_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty variable (as `.env` templates leave them) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def storage_backend(self) -> Literal["sql", "supabase"]:
        """`supabase` when its URL and key are set and DATABASE_URL is not."""
        if self.database_url is None and self.supabase_url and self.supabase_service_role_key:
            return "supabase"
        return "sql"

    @property
    def sql_url(self) -> URL:
        """The async SQLAlchemy URL the SQL store connects to."""
        return to_async_url(self.database_url or DEFAULT_DATABASE_URL)

    @property
    def bus(self) -> Literal["memory", "redis"]:
        """`redis` (processes as one service) with REDIS_URL on PostgreSQL, else `memory`."""
        sql_backend = self.sql_url.get_backend_name() if self.storage_backend == "sql" else None
        on_postgres = sql_backend == "postgresql"
        return "redis" if self.redis_url and on_postgres else "memory"

    def several_processes_problem(self) -> str | None:
        """Why WORKERS processes cannot share this configuration, if they cannot."""
        if self.workers == 1 or self.bus == "redis":
            return None
        if not self.redis_url:
            return (
                f"WORKERS={self.workers} needs REDIS_URL (and DATABASE_URL on PostgreSQL): "
                "without it each process would have its own sessions; set REDIS_URL or WORKERS=1"
            )
        return (
            f"WORKERS={self.workers} needs DATABASE_URL on PostgreSQL: SQLite and the "
            "Supabase REST client serve one process; set DATABASE_URL=postgresql://… or WORKERS=1"
        )

    @property
    def price_table(self) -> PriceTable:
        """LLM_PRICES read: per model, the price of a million prompt and completion tokens."""
        return parse_prices(self.llm_prices)

    @property
    def cors_origin_list(self) -> list[str]:
        """Origins allowed to call the REST API from a browser (comma-separated setting)."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def tool_names(self) -> list[str]:
        """The tools offered to the model, in the configured order."""
        return _names(self.tools)

    @property
    def user_sign_in(self) -> bool:
        """True when users sign in with their own tokens (a JWT secret or a JWKS URL is set)."""
        return self.auth_jwt_secret is not None or self.auth_jwks_url is not None

    @property
    def provider(self) -> Literal["local", "openai"]:
        """The model provider: as set, else `openai` when a key is present, else `local`."""
        if self.llm_provider is not None:
            return self.llm_provider
        return "openai" if self.openai_api_key else "local"


def load_settings() -> Settings:
    """Build the settings, turning a validation failure into one readable message."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SystemExit(f"Invalid configuration: {problems}") from None


def _names(value: str) -> list[str]:
    """The non-blank names of a comma-separated list, each once."""
    return list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
