"""Settings: the TOML file lists every setting with its default and a comment; bad input stops start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contactfix.errors import SettingsError
from contactfix.settings import Settings, config_dir, load_settings, read_toml_settings

DEFAULT_TOML = Path(__file__).resolve().parents[1] / "config" / "default.toml"


def test_default_toml_lists_every_setting_with_its_default() -> None:
    values = read_toml_settings(DEFAULT_TOML)
    assert set(values) == set(Settings.model_fields)
    for key, field in Settings.model_fields.items():
        expected = field.default
        # TOML has no null: an unset optional setting is written as "".
        assert values[key] == ("" if expected is None else expected), key


def test_every_setting_in_default_toml_has_a_comment_line_above_it() -> None:
    lines = DEFAULT_TOML.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+\s*=", line):
            assert lines[i - 1].startswith("# "), f"{line.split('=')[0].strip()} has no comment"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    settings = load_settings({"CONTACTFIX_DATABASE_URL": url, "CONTACTFIX_INTAKE_BATCH_SIZE": "250"})
    assert settings.database_url == url
    assert settings.intake_batch_size == 250


def test_embedded_default_has_no_broker() -> None:
    settings = load_settings({})
    assert settings.broker_url is None and settings.eager
    assert load_settings({"CONTACTFIX_BROKER_URL": "redis://127.0.0.1:6379/0"}).eager is False


def test_unknown_environment_key_is_named() -> None:
    with pytest.raises(SettingsError, match="CONTACTFIX_DATABSE_URL"):
        load_settings({"CONTACTFIX_DATABSE_URL": "sqlite://"})


def test_bad_value_names_the_key() -> None:
    with pytest.raises(SettingsError, match="intake_batch_size"):
        load_settings({"CONTACTFIX_INTAKE_BATCH_SIZE": "lots"})
    with pytest.raises(SettingsError, match="timezone"):
        load_settings({"CONTACTFIX_TIMEZONE": "Mars/Olympus"})


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text('colour = "blue"\n[intake]\nshape = 3\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings({"CONTACTFIX_CONFIG_DIR": str(tmp_path), "CONTACTFIX_NOPE": "1"})
    message = str(caught.value)
    assert "colour" in message and "shape" in message and "CONTACTFIX_NOPE" in message


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text("[storage]\ndatabase_uri = 'x'\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="database_uri"):
        load_settings({"CONTACTFIX_CONFIG_DIR": str(tmp_path)})


def test_invalid_toml_is_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text("database_url = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({"CONTACTFIX_CONFIG_DIR": str(tmp_path)})


def test_config_dir_prefers_the_environment(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text("", encoding="utf-8")
    assert config_dir({"CONTACTFIX_CONFIG_DIR": str(tmp_path)}) == tmp_path


def test_settings_are_immutable() -> None:
    settings = load_settings({})
    with pytest.raises(ValueError):
        settings.database_url = "sqlite://"  # type: ignore[misc]


def test_dispatch_countdowns_and_leases_must_stay_below_the_visibility_timeout() -> None:
    # Redis delivers a task message again once it waited longer than the visibility timeout.
    fits = load_settings(
        {}, dispatch_visibility_timeout_s=100, dispatch_backoff_cap_s=99, dispatch_lease_s=99
    )
    assert (fits.dispatch_backoff_cap_s, fits.dispatch_lease_s) == (99, 99)
    for name in ("dispatch_backoff_cap_s", "dispatch_lease_s"):
        too_long = {"dispatch_backoff_cap_s": 99, "dispatch_lease_s": 99, name: 100}
        with pytest.raises(SettingsError, match=f"{name} must be below dispatch_visibility_timeout_s"):
            load_settings({}, dispatch_visibility_timeout_s=100, **too_long)
    with pytest.raises(SettingsError, match="dispatch_visibility_timeout_s"):
        load_settings({"CONTACTFIX_DISPATCH_VISIBILITY_TIMEOUT_S": "60"})  # the defaults are longer
