"""config/connectors.toml: which connectors dispatch sends through, their options, secrets and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.outbox import OutboxConnector
from contactfix.dispatch.channels import Channels, RateLimit, default_connectors_path, load_channels_config
from contactfix.errors import SettingsError
from contactfix.settings import Settings, load_settings

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "connectors.toml"
OUTBOX_RATES = "[connectors.outbox]\nrate_per_s = 10.0\nburst = 20.0\n"
ALIYUN = """
[dispatch]
sms = "aliyun-sms"
call = ""

[connectors.aliyun-sms]
access_key_id_env = "TEST_AK"
access_key_secret_env = "TEST_SK"
sign_name = "调解中心"
template_code = "SMS_1"
rate_per_s = 50.0
burst = 50.0
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, outbox_path=str(tmp_path / "box.jsonl"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connectors.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(settings: Settings, path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        load_channels_config(settings, path, environ or {})
    return str(caught.value)


def test_the_shipped_file_parses_with_no_secrets_set(settings: Settings) -> None:
    config = load_channels_config(settings, SHIPPED, {})
    assert (config.sms, config.call) == ("outbox", "outbox")
    assert config.options == {"outbox": {"path": settings.outbox_path}}
    assert config.limits == {"outbox": RateLimit(1000.0, 1000.0)}
    assert config.recipient_limit == RateLimit(30.0 / 60, 60.0)
    assert default_connectors_path(settings).resolve() == SHIPPED  # run from the project or anywhere


def test_by_default_texts_go_to_the_outbox_at_the_outbox_path(settings: Settings, tmp_path: Path) -> None:
    config = load_channels_config(settings, write(tmp_path, OUTBOX_RATES), {})
    assert (config.sms, config.call) == ("outbox", None)
    assert config.options == {"outbox": {"path": settings.outbox_path}}  # the rates are not options
    assert config.limits["outbox"] == RateLimit(10.0, 20.0)
    assert config.recipient_limit == RateLimit(0.5, 60.0)
    channels = Channels.open(config)
    assert isinstance(channels.sms, OutboxConnector) and channels.call is None
    assert str(channels.sms.path) == settings.outbox_path
    channels.close()
    own = load_channels_config(settings, write(tmp_path, OUTBOX_RATES + 'path = "/srv/own.jsonl"\n'), {})
    assert own.options["outbox"]["path"] == "/srv/own.jsonl"


def test_the_connectors_file_setting_is_where_it_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, OUTBOX_RATES)
    settings = load_settings(environ={}, connectors_file=str(path))
    assert default_connectors_path(settings) == path
    assert load_channels_config(settings, environ={}).limits["outbox"] == RateLimit(10.0, 20.0)


def test_secrets_come_from_the_environment_given(settings: Settings, tmp_path: Path) -> None:
    config = load_channels_config(
        settings, write(tmp_path, ALIYUN), {"TEST_AK": "ak-1", "TEST_SK": "sk-secret"}
    )
    assert (config.sms, config.call) == ("aliyun-sms", None)
    assert config.options == {
        "aliyun-sms": {"access_key_id": "ak-1", "access_key_secret": "sk-secret", "sign_name": "调解中心",
                       "template_code": "SMS_1"},
    }  # fmt: skip
    assert config.limits == {"aliyun-sms": RateLimit(50.0, 50.0)}


def test_a_missing_or_empty_variable_is_named_never_a_secret(settings: Settings, tmp_path: Path) -> None:
    message = problems(settings, write(tmp_path, ALIYUN), {"TEST_AK": "ak-visible-1", "TEST_SK": ""})
    assert "connectors.aliyun-sms.access_key_secret_env" in message and "TEST_SK" in message
    assert "ak-visible-1" not in message and "access_key_id_env" not in message


def test_an_unknown_connector_is_named_with_the_known_ones(settings: Settings, tmp_path: Path) -> None:
    message = problems(settings, write(tmp_path, '[dispatch]\nsms = "carrier-pigeon"\n'))
    assert "dispatch: unknown connector 'carrier-pigeon'" in message and "outbox" in message


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ("rate_per_s = -1.0\nburst = 5.0\n", ["connectors.outbox.rate_per_s"]),
        ('rate_per_s = "fast"\nburst = 0\n', ["connectors.outbox.rate_per_s", "connectors.outbox.burst"]),
        ("rate_per_s = true\nburst = 5\n", ["connectors.outbox.rate_per_s"]),
        ("rate_per_s = inf\nburst = nan\n", ["connectors.outbox.rate_per_s", "connectors.outbox.burst"]),
        ("burst = 5\n", ["connectors.outbox.rate_per_s"]),
    ],
)
def test_a_bad_rate_is_named(settings: Settings, tmp_path: Path, table: str, named: list[str]) -> None:
    message = problems(settings, write(tmp_path, "[connectors.outbox]\n" + table))
    for key in named:
        assert f"{key}: set a positive number" in message
    assert message.count("set a positive number") == len(named)


def test_a_bad_recipient_limit_names_the_key_of_the_file(settings: Settings, tmp_path: Path) -> None:
    text = "[dispatch]\nrecipient_rate_per_minute = 0\nrecipient_burst = -3\n" + OUTBOX_RATES
    message = problems(settings, write(tmp_path, text))
    assert "dispatch.recipient_rate_per_minute: set a positive number" in message
    assert "dispatch.recipient_burst: set a positive number" in message


def test_every_problem_is_reported_at_once(settings: Settings, tmp_path: Path) -> None:
    text = '[dispatch]\nsms = "outbox"\ncall = "nope"\ncolour = "red"\n[extras]\n' + OUTBOX_RATES
    text = text.replace("rate_per_s = 10.0", "rate_per_s = 0")
    message = problems(settings, write(tmp_path, text))
    for part in ("unknown connector 'nope'", "dispatch.colour: unknown key", "extras: unknown section",
                 "connectors.outbox.rate_per_s"):  # fmt: skip
        assert part in message


def test_an_unreadable_file_is_a_settings_error(settings: Settings, tmp_path: Path) -> None:
    assert "cannot read the connectors file" in problems(settings, tmp_path / "missing.toml")
    assert "not valid TOML" in problems(settings, write(tmp_path, "[dispatch\n"))


def test_a_connector_that_cannot_start_is_a_settings_error(settings: Settings, tmp_path: Path) -> None:
    config = load_channels_config(settings, write(tmp_path, OUTBOX_RATES + "colour = 'red'\n"), {})
    with pytest.raises(SettingsError, match=r"^connectors: .*colour"):
        Channels.open(config)
