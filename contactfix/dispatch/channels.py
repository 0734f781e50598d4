"""The connectors dispatch sends through, read from ``config/connectors.toml``.

``[dispatch]`` names the SMS connector and the call connector (or none) and the per-recipient rate
limit; ``[connectors.<name>]`` gives each connector's options and its own rate limit. An option
``<x>_env = "VAR"`` takes ``<x>`` from the environment variable VAR, so secrets stay out of files.
Every mistake (unknown connector, missing variable, bad limit) is a SettingsError at start-up.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import CallConnector, DeliveryReceipt, SmsConnector
from connectors.errors import ConfigurationError
from connectors.registry import REGISTRY, load_call_connector, load_sms_connector
from contactfix.errors import SettingsError
from contactfix.settings import Settings, config_dir, read_toml

__all__ = ["CONNECTORS_FILE_NAME", "Channels", "ChannelsConfig", "RateLimit", "load_channels_config"]

CONNECTORS_FILE_NAME = "connectors.toml"
# SMS connectors that hand delivery receipts to a callback on their own connection.
RECEIPT_PUSHING = frozenset({"smpp"})
ReceiptHandler = Callable[[DeliveryReceipt], None]
_LIMIT_KEYS = ("rate_per_s", "burst")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``rate_per_s`` tokens a second, at most ``burst`` saved up."""

    rate_per_s: float
    burst: float


@dataclass(frozen=True)
class ChannelsConfig:
    """What the file says, checked, with secrets resolved; no connector is built yet."""

    sms: str
    call: str | None
    options: Mapping[str, Mapping[str, Any]]
    limits: Mapping[str, RateLimit]
    recipient_limit: RateLimit


@dataclass
class Channels:
    """The live connectors of one worker process."""

    config: ChannelsConfig
    sms: SmsConnector
    call: CallConnector | None

    @classmethod
    def open(cls, config: ChannelsConfig, on_receipt: ReceiptHandler | None = None) -> Channels:
        """Build the connectors the config names; SettingsError when one cannot start.

        ``on_receipt`` is given to an SMS connector that pushes receipts over its own connection
        (SMPP's deliver_sm); HTTP providers' receipts arrive at the API instead.
        """
        options = dict(config.options.get(config.sms, {}))
        if on_receipt is not None and config.sms in RECEIPT_PUSHING:
            options["on_receipt"] = on_receipt
        try:
            sms = load_sms_connector(config.sms, options)
            call = None
            if config.call:
                call = load_call_connector(config.call, config.options.get(config.call, {}))
        except ConfigurationError as exc:
            raise SettingsError(f"connectors: {exc}") from exc
        return cls(config, sms, call)

    def close(self) -> None:
        """Release the connectors' connections."""
        self.sms.close()
        close = getattr(self.call, "close", None)
        if close is not None and self.call is not self.sms:  # type: ignore[comparison-overlap]
            close()


def default_connectors_path(settings: Settings) -> Path:
    """``connectors_file``, else connectors.toml beside default.toml, else the source tree's."""
    if settings.connectors_file:
        return Path(settings.connectors_file)
    directory = config_dir()
    if directory is not None and (directory / CONNECTORS_FILE_NAME).is_file():
        return directory / CONNECTORS_FILE_NAME
    return Path(__file__).resolve().parents[2] / "config" / CONNECTORS_FILE_NAME


def load_channels_config(
    settings: Settings, path: Path | None = None, environ: Mapping[str, str] | None = None
) -> ChannelsConfig:
    """Read and check the connectors file; SettingsError lists every problem at once."""
    source = path or default_connectors_path(settings)
    env = os.environ if environ is None else environ
    raw = read_toml(source, "connectors file")
    problems: list[str] = [
        f"{key}: unknown section in {source}" for key in set(raw) - {"dispatch", "connectors", "repair"}
    ]
    dispatch = raw.get("dispatch", {})
    tables = raw.get("connectors", {})
    sms = str(dispatch.get("sms", "outbox"))
    call = str(dispatch.get("call", "")) or None
    options: dict[str, dict[str, Any]] = {}
    limits: dict[str, RateLimit] = {}
    for name in (sms, call):
        if name is None:
            continue
        if name not in REGISTRY:
            problems.append(f"dispatch: unknown connector {name!r} (known: {', '.join(sorted(REGISTRY))})")
            continue
        table = dict(tables.get(name, {}))
        limit = _limit(f"connectors.{name}", table, problems)
        if limit is not None:
            limits[name] = limit
        options[name] = _resolve_env(name, table, env, problems)
        if name == "outbox":
            options[name].setdefault("path", settings.outbox_path)
    recipient = _recipient_limit(dispatch, problems)
    unknown = set(dispatch) - {"sms", "call", "recipient_rate_per_minute", "recipient_burst"}
    problems += [f"dispatch.{key}: unknown key in {source}" for key in sorted(unknown)]
    if problems:
        raise SettingsError("; ".join(sorted(problems)))
    assert recipient is not None  # no problems means the limit was read
    return ChannelsConfig(sms=sms, call=call, options=options, limits=limits, recipient_limit=recipient)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("nan")


def _positive(value: float) -> bool:
    # NaN (not a number at all) and infinity (a bucket that never empties) are both refused.
    return math.isfinite(value) and value > 0


def _limit(where: str, table: dict[str, Any], problems: list[str]) -> RateLimit | None:
    values = {key: _number(table.pop(key, float("nan"))) for key in _LIMIT_KEYS}
    bad = [key for key, value in values.items() if not _positive(value)]
    if bad:
        problems += [f"{where}.{key}: set a positive number" for key in bad]
        return None
    return RateLimit(values["rate_per_s"], values["burst"])


def _recipient_limit(dispatch: dict[str, Any], problems: list[str]) -> RateLimit | None:
    """The per-recipient bucket, its problems named by the keys the file uses."""
    values = {
        "recipient_rate_per_minute": _number(dispatch.get("recipient_rate_per_minute", 30.0)),
        "recipient_burst": _number(dispatch.get("recipient_burst", 60.0)),
    }
    bad = [key for key, value in values.items() if not _positive(value)]
    if bad:
        problems += [f"dispatch.{key}: set a positive number" for key in bad]
        return None
    return RateLimit(values["recipient_rate_per_minute"] / 60, values["recipient_burst"])


def _resolve_env(
    name: str, table: dict[str, Any], env: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in table.items():
        if not key.endswith("_env"):
            resolved[key] = value
            continue
        variable = str(value)
        if not env.get(variable):
            problems.append(f"connectors.{name}.{key}: the environment variable {variable} is not set")
            continue
        resolved[key[: -len("_env")]] = env[variable]
    return resolved
