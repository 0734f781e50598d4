"""Settings: one typed object, validated at start-up.

Precedence, lowest first: the defaults declared here, ``config/default.toml`` (which lists every
setting with its default and a one-line comment), then ``CONTACTFIX_*`` environment variables.
An unknown key, in the file or the environment, or a bad value stops start-up with the key's name.
Components receive explicit values from this object and never read the environment themselves.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contactfix.errors import SettingsError

ENV_PREFIX = "CONTACTFIX_"
CONFIG_DIR_ENV = "CONTACTFIX_CONFIG_DIR"
# Variables that steer where settings come from rather than being settings themselves.
_META_ENV = {CONFIG_DIR_ENV}


class Settings(BaseSettings):
    """Every setting of the service. Keep ``config/default.toml`` in step (a test checks it)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # storage and queue
    database_url: str = "sqlite:///contactfix.sqlite3"
    broker_url: str | None = None
    outbox_path: str = "outbox.jsonl"

    # locale
    timezone: str = "Asia/Shanghai"
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    # intake
    intake_batch_size: int = Field(default=5000, ge=1, le=100_000)
    intake_max_field_length: int = Field(default=500, ge=16)
    intake_max_file_bytes: int = Field(default=2_000_000_000, ge=1)

    # linkage
    match_threshold: float = Field(default=0.5, ge=0.0, le=1.0)

    # reconciliation
    reconcile_at: str = Field(default="02:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    reconcile_max_block_size: int = Field(default=50, ge=2)
    reconcile_lookback_minutes: int = Field(default=60, ge=0)
    reconcile_merge_probability: float = Field(default=0.99, ge=0.0, le=1.0)

    # repair
    repair_link_probability: float = Field(default=0.9, gt=0.0, le=1.0)
    repair_confidence_threshold: float = Field(default=0.1, ge=0.0, le=1.0)
    shared_phone_min_identities: int = Field(default=3, ge=2)
    calibration_min_outcomes: int = Field(default=200, ge=20)

    # carrier repair
    carrier_repair_enabled: bool = True
    carrier_batch_size: int = Field(default=1000, ge=1, le=1000)
    carrier_retry_days: int = Field(default=30, ge=1)
    carrier_renew_days: int = Field(default=3, ge=0)

    # contact policy
    policy_profile: str = Field(default="cn", min_length=1)
    policy_file: str = ""

    # dispatch
    connectors_file: str = ""
    dispatch_visibility_timeout_s: int = Field(default=300, ge=10)
    dispatch_restore_interval_s: int = Field(default=5, ge=1)
    dispatch_relay_interval_s: float = Field(default=5.0, ge=0.1)
    dispatch_requeue_after_s: int = Field(default=60, ge=1)
    dispatch_lease_s: int = Field(default=120, ge=1)
    dispatch_max_attempts: int = Field(default=8, ge=1, le=100)
    dispatch_backoff_base_s: float = Field(default=2.0, gt=0)
    dispatch_backoff_cap_s: float = Field(default=240.0, gt=0)
    dispatch_binding_hours: int = Field(default=72, ge=1, le=720)
    dispatch_batch_size: int = Field(default=10, ge=1, le=500)
    # What mediators' phones reach the web pages at; texts link to {public_base_url}/cases/{id}.
    public_base_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")

    # access and the HTTP API
    share_contacts_across_banks: bool = False
    api_workers: int = Field(default=2, ge=1, le=64)
    # Threads per API process for blocking work (database, files); its pool keeps as many
    # connections. Few: more threads only contend for the process's GIL, and requests beyond them
    # wait in line (first come, first served) instead.
    api_threads: int = Field(default=8, ge=1, le=200)
    # The niceness of the process that takes a large upload in (0: as the API's own): interactive
    # reads keep their latency while an upload runs; the upload gets every cycle they leave.
    api_upload_nice: int = Field(default=10, ge=0, le=19)
    # the web pages: the key that signs session cookies (None: derived from the data key), cookies
    # only over HTTPS, and how long a sign-in lasts
    web_session_secret: SecretStr | None = None
    web_secure_cookies: bool = True
    web_session_hours: int = Field(default=8, ge=1, le=24 * 30)

    # privacy: keys (contactfix.privacy.keyring)
    data_key: SecretStr | None = None
    data_key_file: str = ""
    # privacy: retention (contactfix.privacy.erasure); 0 keeps closed cases' personal data
    retention_days: int = Field(default=0, ge=0, le=36500)

    # providers' webhooks (contactfix.api.webhooks)
    webhook_secret_aliyun: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000)
    webhook_max_entries: int = Field(default=1000, ge=1, le=100_000)
    webhook_clock_skew_s: int = Field(default=300, ge=0, le=3600)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("broker_url", "data_key", "webhook_secret_aliyun", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _countdowns_fit_the_visibility_timeout(self) -> Settings:
        # A task message that waits longer than the visibility timeout is delivered twice by Redis.
        timeout = self.dispatch_visibility_timeout_s
        too_long = [
            f"{name} must be below dispatch_visibility_timeout_s ({timeout})"
            for name in ("dispatch_backoff_cap_s", "dispatch_lease_s")
            if getattr(self, name) >= timeout
        ]
        if too_long:
            raise ValueError("; ".join(too_long))
        return self

    @field_validator("data_key")
    @classmethod
    def _data_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from contactfix.privacy.keyring import decode_data_key

            decode_data_key(value.get_secret_value(), "data_key")  # the message never quotes the key
        return value

    @property
    def data_key_value(self) -> str | None:
        """The data key's base64 text, or None (then ``data_key_file`` or the embedded default)."""
        return None if self.data_key is None else self.data_key.get_secret_value()

    @property
    def eager(self) -> bool:
        """True when no broker is set: tasks run in process (the embedded default)."""
        return self.broker_url is None


def config_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where ``default.toml`` lives: $CONTACTFIX_CONFIG_DIR, else ./config, else the source tree's."""
    env = os.environ if environ is None else environ
    candidates = [env.get(CONFIG_DIR_ENV), "config", str(Path(__file__).resolve().parents[1] / "config")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "default.toml").is_file():
            return Path(candidate)
    return None


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML file at ``path`` (``what`` it is, for the message); SettingsError when unreadable."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the {what}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def read_toml_settings(path: Path) -> dict[str, Any]:
    """The settings in one TOML file, sections flattened (section names are only for reading)."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings; raise :class:`SettingsError` naming every bad key at once."""
    env = dict(os.environ if environ is None else environ)
    known = set(Settings.model_fields)
    problems: list[str] = []

    file_values: dict[str, Any] = {}
    directory = config_dir(env)
    if directory is not None:
        path = directory / "default.toml"
        try:
            file_values = read_toml_settings(path)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
        problems += [f"{key}: unknown setting in {path}" for key in sorted(set(file_values) - known)]

    env_values: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in _META_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key in known:
            env_values[key] = value
        else:
            problems.append(f"{name}: unknown setting in the environment")
    if problems:
        raise SettingsError("; ".join(problems))

    values = {**{k: v for k, v in file_values.items() if k in known}, **env_values, **overrides}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '?'}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(details) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the file and the environment."""
    return load_settings()
