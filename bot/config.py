"""All of Atelier's configuration: one settings class, read from the environment and ``.env``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.quota.credits import CreditTable
from bot.storage.url import redact
from bot.toapis.catalog import ModelCatalog
from bot.toapis.catalog_file import load_catalog

log = logging.getLogger(__name__)

__all__ = ["ConfigError", "Settings", "describe_settings", "load_settings"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# What each variable expects, in words an operator reads in a one-line error.
_EXPECTED: dict[str, str] = {
    "discord_token": "your bot's token from the Discord Developer Portal (Bot → Reset Token)",
    "toapis_api_key": "your ToAPIs API key (from the ToAPIs API key page)",
    "toapis_base_url": "an http(s) URL such as https://toapis.com",
    "database_url": "a database URL such as sqlite:///data/atelier.db",
    "data_dir": "a directory path",
    "log_level": "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "dev_guild_ids": "a comma-separated list of server ids, e.g. 123456789012345678,234567890123456789",
    "models_file": "the path of a model catalog file (see README, Model catalog)",
    "default_model": "a model of the catalog (bot/toapis/models.toml, or MODELS_FILE's) in service",
    "default_size": "an aspect ratio such as 1:1 or 16:9",
    "default_resolution": "one of 1k, 2k, 4k",
    "default_quality": "one of low, medium, high",
    "max_images_per_request": "a whole number from 1 to 10",
    "poll_budget_rps": "a positive number of requests per second",
    "poll_budget_max_rps": (
        "a positive number of requests per second, at least POLL_BUDGET_RPS (the starting rate)"
    ),
    "poll_min_interval_seconds": "a positive number of seconds",
    "poll_max_interval_seconds": "a positive number of seconds",
    "task_timeout_seconds": "a positive number of seconds",
    "task_timeout_4k_seconds": "a positive number of seconds",
    "http_timeout_seconds": "a positive number of seconds",
    "upload_timeout_seconds": "a positive number of seconds",
    "download_timeout_seconds": "a positive number of seconds",
    "http_max_retries": "a whole number from 0 to 10",
    "max_result_bytes": "a positive number of bytes",
    "shard_count": "a positive whole number (leave unset for one shard)",
    "shard_ids": (
        "distinct shard ids below SHARD_COUNT such as 0,1, or none for a job worker without"
        " a gateway connection (leave unset for all shards)"
    ),
    "discord_api_base": "an http(s) URL ending in /api/v10 (only for tests or a proxy)",
    "discord_gateway_url": "a ws(s) URL (only for tests or a proxy)",
    "quota_credits": 'JSON credit overrides such as {"gpt-4o-image": 3} (see README, Quotas)',
    "quota_member_daily": "a whole number of credits, 0 or more",
    "quota_server_daily": "a whole number of credits, 0 or more (leave unset for no limit)",
    "quota_server_monthly": "a whole number of credits, 0 or more (leave unset for no limit)",
    "log_format": "text or json",
    "metrics_port": "a TCP port from 1 to 65535 (leave unset for no health/metrics endpoint)",
    "metrics_host": "an address to listen on, such as 127.0.0.1 or 0.0.0.0",
}

_SECRETS = frozenset({"discord_token", "toapis_api_key"})
# Variables whose validator says what exactly is wrong; the line carries that reason.
_WITH_REASON = frozenset({"shard_ids", "poll_budget_max_rps", "default_model", "quota_credits"})


class ConfigError(Exception):
    """The configuration is missing or invalid; ``lines`` say what to fix, one per variable."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    """Every setting of Atelier; the environment variable is the field name in capitals."""

    # env_ignore_empty: a line left blank in a copied .env.example means "use the default".
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        env_ignore_empty=True,
    )

    discord_token: SecretStr
    toapis_api_key: SecretStr
    toapis_base_url: str = "https://toapis.com"
    # May hold a PostgreSQL password: shown only redacted (repr, check-config, errors).
    database_url: str = Field(default="sqlite:///data/atelier.db", repr=False)
    data_dir: Path = Path("data")
    log_level: LogLevel = "INFO"
    dev_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # Issue 14: the model catalog; unset, the one shipped in the package. Declared before what
    # is checked against it (the default model and size, the credit overrides).
    models_file: Path | None = None
    # Unset: the catalog's first model in service.
    default_model: str = ""
    default_size: str = "1:1"
    default_resolution: Literal["1k", "2k", "4k"] = "1k"
    default_quality: Literal["low", "medium", "high"] = "medium"
    max_images_per_request: int = Field(4, ge=1, le=10)

    # Issue 11: the status-request budget starts at POLL_BUDGET_RPS, grows while ToAPIs answers
    # without 429 and is cut on 429, never above POLL_BUDGET_MAX_RPS (both for the whole bot).
    poll_budget_rps: float = Field(10.0, gt=0)
    poll_budget_max_rps: float = Field(50.0, gt=0)
    poll_min_interval_seconds: float = Field(1.0, gt=0)
    poll_max_interval_seconds: float = Field(10.0, gt=0)
    task_timeout_seconds: float = Field(900.0, gt=0)
    task_timeout_4k_seconds: float = Field(1800.0, gt=0)

    http_timeout_seconds: float = Field(30.0, gt=0)
    upload_timeout_seconds: float = Field(120.0, gt=0)
    download_timeout_seconds: float = Field(120.0, gt=0)
    http_max_retries: int = Field(3, ge=0, le=10)
    max_result_bytes: int = Field(60 * 1024 * 1024, gt=0)

    # Quotas (issue 6): the credit table's overrides and defaults for unconfigured servers.
    quota_credits: str | None = None
    quota_member_daily: int = Field(20, ge=0)
    quota_server_daily: int | None = Field(None, ge=0)
    quota_server_monthly: int | None = Field(None, ge=0)

    shard_count: int | None = Field(None, ge=1)
    # Issue 10: a process that stops renewing has its jobs taken over within this many seconds.
    job_lease_seconds: float = Field(60.0, ge=6.0, le=3600.0)
    # None: every shard of SHARD_COUNT (or one unsharded connection); []: "none", a job worker
    # that never connects to the gateway. Declared after shard_count, which it is checked against.
    shard_ids: Annotated[list[int] | None, NoDecode] = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None

    # Issue 14: one JSON object per log line for log shippers; /healthz and /metrics over HTTP.
    log_format: Literal["text", "json"] = "text"
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("poll_budget_max_rps")
    @classmethod
    def _ceiling_above_start(cls, value: float, info: ValidationInfo) -> float:
        start = info.data.get("poll_budget_rps")
        if start is not None and value < start:
            raise ValueError(f"below POLL_BUDGET_RPS={start:g}")
        return value

    @field_validator("discord_token", "toapis_api_key")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    _models: ModelCatalog | None = PrivateAttr(default=None)

    @property
    def models(self) -> ModelCatalog:
        """The model catalog the bot runs with (``MODELS_FILE``, else the shipped one)."""
        if self._models is None:
            self._models = load_catalog(self.models_file)
        return self._models

    @field_validator("models_file")
    @classmethod
    def _catalog_file(cls, value: Path | None) -> Path | None:
        load_catalog(value)  # raises CatalogError (a ValueError) naming the file and the field
        return value

    @field_validator("default_model")
    @classmethod
    def _model_in_catalog(cls, value: str, info: ValidationInfo) -> str:
        if "models_file" not in info.data:
            return value  # MODELS_FILE itself is invalid and reported on its own line
        catalog = load_catalog(info.data["models_file"])
        if not value.strip():
            return catalog.first.name
        current = catalog.current_name(value)
        if current is None:
            raise ValueError(f"not in the catalog ({catalog.source}): {', '.join(catalog.models)}")
        if current != value:
            log.warning("DEFAULT_MODEL %s is retired; using its successor %s", value, current)
        return current

    @field_validator("quota_credits")
    @classmethod
    def _credit_table(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        if "models_file" not in info.data:
            return value
        models = load_catalog(info.data["models_file"]).models
        # Raises CreditTableError (a ValueError) with the reason.
        CreditTable.from_json(value, models)
        return value

    @field_validator("quota_server_daily", "quota_server_monthly", "metrics_port", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("dev_guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        if text.lower() == "none":
            return []
        parts = [part.strip() for part in text.split(",")]
        if any(not part.isdigit() for part in parts):
            raise ValueError("shard ids are whole numbers 0 or more, separated by commas")
        return [int(part) for part in parts]

    @field_validator("shard_ids")
    @classmethod
    def _check_shard_ids(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if not value:  # unset, or "none" (a worker needs no shard count)
            return value
        if any(i < 0 for i in value):
            raise ValueError("shard ids are whole numbers 0 or more")
        twice = sorted({i for i in value if value.count(i) > 1})
        if twice:
            raise ValueError(f"shard {twice[0]} is listed twice")
        if "shard_count" not in info.data:
            return value  # SHARD_COUNT itself is invalid and reported on its own line
        count = info.data["shard_count"]
        if count is None:
            raise ValueError("SHARD_COUNT must be set too")
        too_big = [i for i in value if i >= count]
        if too_big:
            raise ValueError(f"shard {too_big[0]} does not exist with SHARD_COUNT={count}")
        return value

    @property
    def gateway_worker(self) -> bool:
        """``SHARD_IDS=none``: run jobs and delivery only, never connect to the gateway."""
        return self.shard_ids == []

    @field_validator("toapis_base_url", "discord_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("not an http(s) URL")
        return value.rstrip("/")

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError("not a ws(s) URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("not a URL")
        return value

    @field_validator("default_size")
    @classmethod
    def _size(cls, value: str, info: ValidationInfo) -> str:
        if "models_file" not in info.data:
            return value
        catalog = load_catalog(info.data["models_file"])
        if value != "auto" and value not in catalog.sizes():
            raise ValueError("unknown size")
        return value


def _line(error: dict[str, Any]) -> str:
    loc = error.get("loc") or ("?",)
    name = str(loc[0])
    var = name.upper()
    expected = _EXPECTED.get(name, "a valid value")
    if error.get("type") == "missing":
        return f"{var} is not set: set it to {expected}."
    if name == "models_file" and error.get("type") == "value_error":
        # The reason names the file and the field of it that is wrong.
        reason = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"MODELS_FILE is invalid: {reason}"
    if name in _SECRETS:
        # Never echo a secret, not even a wrong one.
        return f"{var} is invalid: set it to {expected}."
    shown = str(error.get("input"))
    if name == "database_url":
        shown = redact(shown)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if name in _WITH_REASON and error.get("type") == "value_error":
        reason = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"{var}={shown!r} is invalid: {reason}; expected {expected}."
    return f"{var}={shown!r} is invalid: expected {expected}."


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning every problem into a ``ConfigError`` with one line per variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        seen: dict[str, str] = {}
        for err in exc.errors(include_url=False):
            key = str((err.get("loc") or ("?",))[0])
            seen.setdefault(key, _line(dict(err)))
        raise ConfigError(list(seen.values())) from None


def describe_settings(settings: Settings) -> list[str]:
    """Return ``NAME=value`` lines with secrets masked, for ``check-config``."""
    lines = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            # Not even a suffix: a secret's characters never leave the process.
            shown = "<set, hidden>"
        elif name == "shard_ids" and value == []:
            shown = "none"
        elif isinstance(value, list):
            shown = ",".join(str(v) for v in value)
        elif value is None:
            shown = ""
        elif name == "database_url":
            shown = redact(str(value))
        else:
            shown = str(value)
        lines.append(f"{name.upper()}={shown}")
    return lines
