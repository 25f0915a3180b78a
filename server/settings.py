"""Configuration from the environment and a `.env` file (RUNNING.md)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "asyncpg_url", "sqlalchemy_url"]


def sqlalchemy_url(url: str) -> str:
    """SQLAlchemy wants postgresql+asyncpg://; accept either spelling."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]}://")


def asyncpg_url(url: str) -> str:
    """asyncpg and broadcaster want postgresql://."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    broadcast_url: str | None = Field(default=None, alias="BROADCAST_URL")
    oauth_issuer: str = Field(default="casegraph", alias="OAUTH_ISSUER")
    oauth_audience: str = Field(default="casegraph-api", alias="OAUTH_AUDIENCE")
    oauth_jwks_url: str | None = Field(default=None, alias="OAUTH_JWKS_URL")
    env: Literal["development", "production", "test"] = Field(default="development", alias="CASEGRAPH_ENV")
    data_dir: str = Field(default=".casegraph", alias="CASEGRAPH_DATA_DIR")
    # Lifetime of tokens issued by /oauth/token (client credentials); short by design.
    client_token_ttl: int = Field(default=900, alias="CASEGRAPH_CLIENT_TOKEN_TTL")
    db_pool_size: int = Field(default=20, alias="CASEGRAPH_DB_POOL_SIZE")
    # Run the SLA engine and the auto-close worker in this process.
    workers_enabled: bool = Field(default=True, alias="CASEGRAPH_WORKERS")
    # What one caller may ask of the server (LIMITS.md).
    query_cost_limit: int = Field(default=25_000, alias="QUERY_COST_LIMIT", ge=1)
    rate_limit_points: int = Field(default=100_000, alias="RATE_LIMIT_POINTS", ge=1)
    trusted_documents: Literal["off", "public"] = Field(default="off", alias="TRUSTED_DOCUMENTS")
    # Off: no cost analysis, rate limits or `extensions.cost` (for overhead comparisons in bench/).
    limits_enabled: bool = Field(default=True, alias="CASEGRAPH_LIMITS")
    # Read planner (planner/): `on` answers plannable queries with one SQL statement that builds
    # the response JSON; `off` serves every operation through the resolvers (the reference path).
    read_planner: Literal["on", "off"] = Field(default="on", alias="READ_PLANNER")
    # Browsers and operators (server.http_security, server.request_log, auth.key_vault).
    cors_allowed_origins: str = Field(default="", alias="CORS_ALLOWED_ORIGINS")
    cors_max_age: int = Field(default=600, alias="CORS_MAX_AGE")
    hsts_max_age: int = Field(default=0, alias="HSTS_MAX_AGE")
    log_format: Literal["json", "text"] | None = Field(default=None, alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    oauth_key_encryption_key: SecretStr | None = Field(default=None, alias="OAUTH_KEY_ENCRYPTION_KEY")
    # The server's clock starts at this instant (ISO-8601 with a zone) and runs from there: for
    # demos and tests at a chosen day and hour (server.clock). Refused in production.
    clock_start: AwareDatetime | None = Field(default=None, alias="CASEGRAPH_CLOCK")
    # The email channel (EMAIL.md). SMTP_URL unset: outbound mails are recorded as SKIPPED.
    smtp_url: SecretStr | None = Field(default=None, alias="SMTP_URL")
    mail_from: str = Field(default="casegraph@casegraph.example", alias="MAIL_FROM")
    mail_domain: str = Field(default="casegraph.example", alias="MAIL_DOMAIN")
    mail_max_bytes: int = Field(default=25 * 1024 * 1024, alias="MAIL_MAX_BYTES", ge=1024)
    mail_max_attachment_bytes: int = Field(default=10 * 1024 * 1024, alias="MAIL_MAX_ATTACHMENT_BYTES", ge=0)
    # Partner webhooks (WEBHOOKS.md). Allowing http:// and private addresses is for development and
    # tests; production ignores it.
    webhook_allow_private: bool = Field(default=False, alias="WEBHOOK_ALLOW_PRIVATE")
    webhook_timeout: float = Field(default=10.0, alias="WEBHOOK_TIMEOUT", gt=0, le=10)
    webhook_concurrency: int = Field(default=64, alias="WEBHOOK_CONCURRENCY", ge=1)
    webhook_per_endpoint: int = Field(default=4, alias="WEBHOOK_PER_ENDPOINT", ge=1)
    # Seconds between retries, comma-separated (tests); empty: WEBHOOKS.md's schedule.
    webhook_retry_schedule: str = Field(default="", alias="WEBHOOK_RETRY_SCHEDULE")

    @cached_property
    def webhook_schedule(self) -> tuple[timedelta, ...] | None:
        """WEBHOOK_RETRY_SCHEDULE as delays; None: the contract's schedule."""
        parts = [p.strip() for p in self.webhook_retry_schedule.split(",") if p.strip()]
        return tuple(timedelta(seconds=float(p)) for p in parts) or None

    @cached_property
    def is_production(self) -> bool:
        return self.env == "production"

    @cached_property
    def allowed_origins(self) -> tuple[str, ...]:
        """CORS_ALLOWED_ORIGINS (comma- or space-separated), normalized; ValueError names a bad one."""
        from server.http_security import parse_origins

        return parse_origins(self.cors_allowed_origins)

    @cached_property
    def effective_log_format(self) -> Literal["json", "text"]:
        """LOG_FORMAT, else JSON in production and text elsewhere."""
        return self.log_format or ("json" if self.is_production else "text")
