"""connectors.registry: connectors by name, imported lazily; each mistake says what to install or set."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

from connectors import ConfigurationError, SmsMessage
from connectors.outbox import OutboxConnector, read_outbox
from connectors.registry import (
    REGISTRY,
    load_call_connector,
    load_connector,
    load_repair_connector,
    load_sms_connector,
)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_connector_imports_and_declares_its_required_options(name: str) -> None:
    module_name, _, class_name = REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    required = cls.required_options
    parameters = inspect.signature(cls).parameters
    assert set(required) <= set(parameters)
    without_default = {p.name for p in parameters.values() if p.default is inspect.Parameter.empty}
    assert without_default == set(required)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_connector("carrier-pigeon", {})
    for name in REGISTRY:
        assert name in str(error.value)


def test_missing_and_unknown_options_are_named_together() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_connector("caih-repair", {"userkey": "u", "colour": "blue"})
    text = str(error.value)
    assert "appid" in text and "secretkey" in text and "colour" in text
    assert "userkey" not in text.split("accepted")[0].split("required option(s)")[1]


def test_a_value_the_constructor_refuses_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="sandbox-repair"):
        load_connector("sandbox-repair", {"validity_days": "a month"})
    with pytest.raises(ConfigurationError, match="endpoint"):
        load_connector("caih-repair", {"userkey": "u", "appid": "a", "secretkey": "s", "endpoint": "ftp://x"})


def test_a_missing_extra_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make `import smpplib` fail exactly as it does where the extra is not installed.
    monkeypatch.setitem(sys.modules, "smpplib", None)
    monkeypatch.delitem(sys.modules, "connectors.sms.smpp", raising=False)
    with pytest.raises(ConfigurationError, match=r"install contactfix\[smpp\]"):
        load_connector("smpp", {"host": "127.0.0.1", "port": 2775, "system_id": "x", "password": "y"})


def test_typed_loaders_check_the_protocol(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    sms = load_sms_connector("outbox", {"path": str(path)})
    assert isinstance(sms, OutboxConnector)
    sms.send(SmsMessage(to="+8613812345678", text="hi", idempotency_key="k1"))
    assert [entry["idempotency_key"] for entry in read_outbox(path)] == ["k1"]
    assert isinstance(load_call_connector("outbox", {"path": str(path)}), OutboxConnector)
    with pytest.raises(ConfigurationError, match="cannot repair"):
        load_repair_connector("outbox", {"path": str(path)})
    with pytest.raises(ConfigurationError, match="cannot send SMS"):
        load_sms_connector("sandbox-repair", {})
    assert load_repair_connector("sandbox-repair", {}) is not None
