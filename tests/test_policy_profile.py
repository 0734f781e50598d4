"""Policy profiles: config/policy.toml lists every rule with a comment; a bad file names the bad key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import contactfix.policy
from contactfix.errors import ContactfixError, SettingsError
from contactfix.policy import PolicyInputError, PolicyProfile, Window, load_profile, load_profiles
from contactfix.policy.profile import default_policy_path

POLICY_TOML = Path(__file__).resolve().parents[1] / "config" / "policy.toml"

CN_TABLE = """\
[profiles.cn]
timezone = "Asia/Shanghai"
contact_window = "08:00-21:00"
daily_call_cap = 6
rolling_call_cap = 0
rolling_call_days = 7
call_pause_days_after_conversation = 0
mediator_hours = "09:00-18:00"
mediator_workdays = [1, 2, 3, 4, 5]
"""


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(SettingsError) as caught:
        load_profiles(path)
    return str(caught.value)


def test_the_china_profile_is_the_default_and_says_what_the_issue_says() -> None:
    cn = load_profile()
    assert cn.name == "cn" and cn.timezone == "Asia/Shanghai"
    assert str(cn.contact_window) == "08:00-21:00"
    assert cn.daily_call_cap == 6
    assert cn.mediator_workdays == (1, 2, 3, 4, 5)


def test_the_us_profile_has_the_fdcpa_hours_and_seven_in_seven() -> None:
    us = load_profile("us", POLICY_TOML)
    assert str(us.contact_window) == "08:00-21:00"
    assert (us.rolling_call_cap, us.rolling_call_days) == (7, 7)
    assert us.call_pause_days_after_conversation == 7
    assert us.zone.key == "America/New_York"


def test_every_key_in_policy_toml_has_a_comment_line_above_it() -> None:
    lines = POLICY_TOML.read_text(encoding="utf-8").splitlines()
    keys = [(i, line) for i, line in enumerate(lines) if re.match(r"^[a-z_]+\s*=", line)]
    assert keys
    for i, line in keys:
        assert lines[i - 1].startswith("# "), f"{line.split('=')[0].strip()} has no comment"


def test_every_profile_sets_every_rule() -> None:
    profiles = load_profiles(POLICY_TOML)
    assert set(profiles) >= {"cn", "us"}
    text = POLICY_TOML.read_text(encoding="utf-8")
    for name in profiles:
        table = text.split(f"[profiles.{name}]", 1)[1].split("\n[", 1)[0]
        keys = set(re.findall(r"^([a-z_]+)\s*=", table, flags=re.MULTILINE))
        assert keys == set(PolicyProfile.model_fields) - {"name"}, name


def test_default_policy_path_is_the_project_config() -> None:
    assert default_policy_path().resolve() == POLICY_TOML.resolve()


def test_unknown_profile_is_named_with_the_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"'mars'.*cn, us"):
        load_profile("mars", POLICY_TOML)


def test_unknown_key_in_a_profile_is_named(tmp_path: Path) -> None:
    path = write_policy(tmp_path, CN_TABLE + "daly_call_cap = 5\n")
    assert "profiles.cn.daly_call_cap: unknown key" in problems_of(path)


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    path = write_policy(tmp_path, 'default = "cn"\n' + CN_TABLE)
    assert "default: unknown key" in problems_of(path)


def test_a_missing_rule_is_named(tmp_path: Path) -> None:
    path = write_policy(tmp_path, CN_TABLE.replace("daily_call_cap = 6\n", ""))
    assert "profiles.cn.daily_call_cap: Field required" in problems_of(path)


@pytest.mark.parametrize(
    ("line", "replacement", "key"),
    [
        ('contact_window = "08:00-21:00"', 'contact_window = "22:00-08:00"', "contact_window"),
        ('contact_window = "08:00-21:00"', 'contact_window = "8:00-21:00"', "contact_window"),
        ('contact_window = "08:00-21:00"', "contact_window = 8", "contact_window"),
        ('mediator_hours = "09:00-18:00"', 'mediator_hours = "09:00-25:00"', "mediator_hours"),
        ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"', "timezone"),
        ("daily_call_cap = 6", "daily_call_cap = -1", "daily_call_cap"),
        ("daily_call_cap = 6", 'daily_call_cap = "six"', "daily_call_cap"),
        ("rolling_call_days = 7", "rolling_call_days = 0", "rolling_call_days"),
        ("mediator_workdays = [1, 2, 3, 4, 5]", "mediator_workdays = [0, 1]", "mediator_workdays"),
        ("mediator_workdays = [1, 2, 3, 4, 5]", "mediator_workdays = [1, 1]", "mediator_workdays"),
        ("mediator_workdays = [1, 2, 3, 4, 5]", "mediator_workdays = []", "mediator_workdays"),
    ],
)
def test_a_bad_value_is_named(tmp_path: Path, line: str, replacement: str, key: str) -> None:
    assert line in CN_TABLE
    path = write_policy(tmp_path, CN_TABLE.replace(line, replacement))
    assert f"profiles.cn.{key}:" in problems_of(path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = CN_TABLE.replace("08:00-21:00", "21:00-08:00") + "colour = 1\n" + CN_TABLE.replace("cn]", "us]")
    message = problems_of(write_policy(tmp_path, text.replace('"Asia/Shanghai"\n', '"Nowhere/Else"\n', 1)))
    assert "profiles.cn.contact_window" in message
    assert "profiles.cn.colour" in message
    assert "profiles.cn.timezone" in message


def test_a_file_without_profiles_is_refused(tmp_path: Path) -> None:
    assert "profiles:" in problems_of(write_policy(tmp_path, "# nothing\n"))


def test_invalid_toml_and_missing_file_are_settings_errors(tmp_path: Path) -> None:
    assert "not valid TOML" in problems_of(write_policy(tmp_path, "[profiles.cn\n"))
    assert "cannot read" in problems_of(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("08:00-21:00", 480, 1260), ("00:00-24:00", 0, 1440), (" 09:30-18:15 ", 570, 1095)],
)
def test_window_parse(text: str, start: int, end: int) -> None:
    window = Window.parse(text)
    assert (window.start_minute, window.end_minute) == (start, end)
    assert Window.parse(str(window)) == window


@pytest.mark.parametrize(
    "text", ["21:00-08:00", "08:00-08:00", "24:00-24:00", "0800-2100", "08:00", "", "a-b"]
)
def test_window_parse_refuses_bad_hours(text: str) -> None:
    with pytest.raises(PolicyInputError) as caught:
        Window.parse(text)
    assert isinstance(caught.value, ContactfixError) and isinstance(caught.value, ValueError)


def test_window_refuses_out_of_range_minutes() -> None:
    with pytest.raises(PolicyInputError):
        Window(600, 1441)


def test_exports_are_exactly_the_public_api() -> None:
    exported = {name for name in dir(contactfix.policy) if not name.startswith("_")}
    modules = {"profile", "rules", "timing", "annotations"}
    assert exported - modules == set(contactfix.policy.__all__)
