"""The repair connector carrier repair asks, read from ``config/connectors.toml``.

``[repair] connector`` names it (``"sandbox-repair"``, the embedded default, when the table or the key
is missing); ``[connectors.<name>]`` gives its options, secrets by ``<x>_env = "VAR"`` as for dispatch.
Paths among the options (``answers_path``, ``records_path``) are relative to the folder of the file;
an empty path means none. Every mistake is one SettingsError naming the keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.errors import ConfigurationError
from connectors.registry import REGISTRY, load_repair_connector
from connectors.repair import RepairConnector
from contactfix.dispatch.channels import default_connectors_path
from contactfix.errors import SettingsError
from contactfix.settings import Settings, read_toml

__all__ = ["DEFAULT_REPAIR_CONNECTOR", "RepairConfig", "load_repair_config", "open_repair_connector"]

DEFAULT_REPAIR_CONNECTOR = "sandbox-repair"
_PATH_OPTIONS = ("answers_path", "records_path")
# Dispatch's token-bucket keys may sit in any connector table; they are no constructor options.
_NOT_OPTIONS = ("rate_per_s", "burst")


@dataclass(frozen=True)
class RepairConfig:
    """The repair connector's name and its checked options (secrets resolved, paths absolute)."""

    connector: str
    options: Mapping[str, Any]


def load_repair_config(
    settings: Settings, path: Path | None = None, environ: Mapping[str, str] | None = None
) -> RepairConfig:
    """Read the ``[repair]`` table and the connector's options; SettingsError lists every problem."""
    source = path or default_connectors_path(settings)
    env = os.environ if environ is None else environ
    raw = read_toml(source, "connectors file")
    table = raw.get("repair", {})
    problems = [f"repair.{key}: unknown key in {source}" for key in sorted(set(table) - {"connector"})]
    name = str(table.get("connector", DEFAULT_REPAIR_CONNECTOR))
    if name not in REGISTRY:
        problems.append(
            f"repair.connector: unknown connector {name!r} (known: {', '.join(sorted(REGISTRY))})"
        )
    options: dict[str, Any] = {}
    for key, value in raw.get("connectors", {}).get(name, {}).items():
        if key in _NOT_OPTIONS:
            continue
        if key.endswith("_env"):
            variable = str(value)
            if not env.get(variable):
                problems.append(f"connectors.{name}.{key}: the environment variable {variable} is not set")
            else:
                options[key[: -len("_env")]] = env[variable]
        elif key in _PATH_OPTIONS:
            if str(value).strip():
                options[key] = str((source.parent / str(value)).resolve())
        else:
            options[key] = value
    if problems:
        raise SettingsError("; ".join(problems))
    return RepairConfig(name, options)


def open_repair_connector(config: RepairConfig) -> RepairConnector:
    """Build the connector; SettingsError (naming the option or file) when it cannot start."""
    try:
        return load_repair_connector(config.connector, config.options)
    except ConfigurationError as exc:
        raise SettingsError(f"connectors: {exc}") from exc
