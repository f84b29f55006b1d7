"""Settings: built once at the entry point (CLI, API factory) and passed down; never read at import.

Every field can be set from the environment with the ``RISKOPS_`` prefix, e.g.
``RISKOPS_DATABASE_URL=postgresql+psycopg://127.0.0.1/riskops``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKOPS_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".riskops"),
        description="Folder for the embedded database and the generated secret.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the event log. Default: SQLite file in data_dir.",
    )
    state_backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="Online state (velocity windows): in-process, or Redis shared by processes.",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis for state.")
    redis_prefix: str = Field(default="riskops", description="Prefix of every Redis key.")
    secret_key: str | None = Field(
        default=None,
        description="HMAC key for fingerprints and identifier hashes. Default: generated once "
        "into data_dir/secret.key. Changing it changes every derived hash.",
    )
    webhook_secret: str | None = Field(
        default=None,
        description="Shared secret that signs webhooks (cart recovery actions); none: not sent.",
    )
    host: str = Field(default="127.0.0.1", description="Address `riskops serve` binds.")
    port: int = Field(default=8600, description="Port `riskops serve` binds.")
    max_batch: int = Field(default=1000, ge=1, le=10000, description="Most events in one POST.")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, description="Largest request body.")
    max_future_skew_s: int = Field(
        default=300, description="occurred_at may be at most this far past the server clock."
    )
    max_event_age_days: int = Field(
        default=10_950,
        description="Events older than this (30 years) are rejected as plainly wrong dates; "
        "historical loads and late data are accepted.",
    )
    group_commit_max: int = Field(
        default=500, description="Most single-event requests committed in one transaction."
    )
    key_cache_s: float = Field(
        default=30.0, description="How long a verified API key is trusted before re-checking."
    )
    auto_migrate: bool = Field(
        default=True, description="Run database migrations when the server or CLI opens the log."
    )
    state_poll_s: float = Field(
        default=0.5, description="How often a server pulls other writers' events into its state."
    )
    rules_reload_s: float = Field(
        default=1.0, ge=0, description="How often a server checks for a newly activated ruleset."
    )
    decision_fail_mode: Literal["open", "closed"] = Field(
        default="open",
        description="When a rule fails at run time: open ignores it, closed makes the outcome "
        "at least review.",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'riskops.db').as_posix()}"

    def resolved_secret(self) -> bytes:
        """The HMAC key; generated on first use for the embedded default."""
        if self.secret_key:
            return self.secret_key.encode()
        import secrets

        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip().encode()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        path.write_text(value + "\n")
        path.chmod(0o600)
        return value.encode()
