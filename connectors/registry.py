"""Connectors by name: one explicit table, imported lazily, checked when loaded.

Settings name a connector (``"smpp"``) and give its options; :func:`load_connector` imports the class
only then, so a missing optional dependency matters only to those who choose that connector. Every
mistake is a :class:`ConfigurationError` at start-up that names what to install or set.

Each connector class declares ``required_options``; any other constructor keyword is optional.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from connectors.base import CallConnector, SmsConnector
from connectors.errors import ConfigurationError
from connectors.masking import mask_text
from connectors.repair.base import RepairConnector

REGISTRY: Mapping[str, str] = MappingProxyType(
    {
        "outbox": "connectors.outbox:OutboxConnector",
        "smpp": "connectors.sms.smpp:SmppConnector",
        "sandbox-repair": "connectors.repair.sandbox:SandboxRepairConnector",
        "caih-repair": "connectors.repair.http:CaihRepairConnector",
        "aliyun-sms": "connectors.sms.aliyun:AliyunSmsConnector",
        "aliyun-axb": "connectors.calls.axb:AliyunAxbConnector",
    }
)

# The pip extra (``contactfix[<extra>]``) that ships a connector's third-party dependencies.
EXTRAS: Mapping[str, str] = MappingProxyType({"smpp": "smpp"})


def load_connector(
    name: str, options: Mapping[str, object], *, registry: Mapping[str, str] = REGISTRY
) -> object:
    """Import and construct the connector registered as ``name`` with ``options`` as keywords.

    Raises :class:`ConfigurationError` for an unknown name (listing the known ones), a missing
    optional dependency (naming the pip extra), missing or unknown options (all of them at once),
    or options the constructor refuses.
    """
    cls = _import_class(name, registry)
    _check_options(name, cls, options)
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"connector {name!r}: bad option ({mask_text(str(exc))})") from exc


def load_sms_connector(name: str, options: Mapping[str, object]) -> SmsConnector:
    """:func:`load_connector`, checked to implement :class:`SmsConnector`."""
    connector = load_connector(name, options)
    if not isinstance(connector, SmsConnector):
        raise ConfigurationError(f"connector {name!r} cannot send SMS")
    return connector


def load_call_connector(name: str, options: Mapping[str, object]) -> CallConnector:
    """:func:`load_connector`, checked to implement :class:`CallConnector`."""
    connector = load_connector(name, options)
    if not isinstance(connector, CallConnector):
        raise ConfigurationError(f"connector {name!r} cannot bind calls")
    return connector


def load_repair_connector(name: str, options: Mapping[str, object]) -> RepairConnector:
    """:func:`load_connector`, checked to implement :class:`RepairConnector`."""
    connector = load_connector(name, options)
    if not isinstance(connector, RepairConnector):
        raise ConfigurationError(f"connector {name!r} cannot repair contacts")
    return connector


def _import_class(name: str, registry: Mapping[str, str]) -> Any:
    target = registry.get(name)
    if target is None:
        known = ", ".join(sorted(registry))
        raise ConfigurationError(f"unknown connector {name!r}; known connectors: {known}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or "?"
        if missing.split(".")[0] == "connectors":
            raise  # our own module is missing: a packaging bug, not a setting
        extra = EXTRAS.get(name)
        hint = f"install contactfix[{extra}]" if extra else f"install the package providing {missing!r}"
        raise ConfigurationError(f"connector {name!r} needs {missing!r}: {hint}") from exc
    return getattr(module, class_name)


def _check_options(name: str, cls: Any, options: Mapping[str, object]) -> None:
    required: tuple[str, ...] = tuple(getattr(cls, "required_options", ()))
    missing = [option for option in required if options.get(option) in (None, "")]
    parameters = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = [p for p in parameters if parameters[p].kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = [] if takes_any else sorted(set(options) - set(accepted))
    problems = []
    if missing:
        problems.append(f"set the required option(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"remove unknown option(s) {', '.join(unknown)} (accepted: {', '.join(accepted)})")
    if problems:
        raise ConfigurationError(f"connector {name!r}: " + "; ".join(problems))
