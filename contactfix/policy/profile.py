"""Contact policy profiles: one jurisdiction's contact rules, loaded from ``config/policy.toml``.

Every key of a profile is required, so a profile that forgets a rule fails at start-up instead of
silently inheriting a default. An unknown key, a bad value or an unknown time zone raises
:class:`~contactfix.errors.SettingsError` naming ``profiles.<name>.<key>``, all problems at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from contactfix.errors import ContactfixError, SettingsError

POLICY_FILE_NAME = "policy.toml"
MINUTES_PER_DAY = 24 * 60

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):00)$")


class PolicyInputError(ContactfixError, ValueError):
    """Something handed to the policy is malformed: a naive time, an unknown zone, bad hours."""


@dataclass(frozen=True, slots=True)
class Window:
    """Local wall-clock hours ``[start, end)`` of one day, in minutes after midnight.

    The end is exclusive (``08:00-21:00`` allows 20:59:59, not 21:00:00) and may be ``24:00``.
    Windows never cross midnight: a night shift would need two windows, which no rule needs today.
    """

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise PolicyInputError(f"hours must be 00:00 <= start < end <= 24:00, got {self}")

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse ``"HH:MM-HH:MM"``; raise :class:`PolicyInputError` saying what is wrong."""
        match = _WINDOW.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise PolicyInputError(f"expected hours as 'HH:MM-HH:MM', got {text!r}")
        sh, sm, eh, em, eh24 = match.groups()
        start = int(sh) * 60 + int(sm)
        end = int(eh24) * 60 if eh24 else int(eh) * 60 + int(em)
        if start >= end:
            raise PolicyInputError(f"hours {text!r} must start before they end (no windows across midnight)")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _to_window(value: object) -> object:
    return Window.parse(value) if isinstance(value, str) else value


def known_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raise :class:`PolicyInputError` when zoneinfo does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PolicyInputError(f"unknown time zone {name!r}") from exc


WindowField = Annotated[Window, BeforeValidator(_to_window)]


class PolicyProfile(BaseModel):
    """The contact rules of one jurisdiction. ``0`` switches a cap or pause off."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(min_length=1)
    timezone: str
    contact_window: WindowField
    daily_call_cap: int = Field(ge=0)
    rolling_call_cap: int = Field(ge=0)
    rolling_call_days: int = Field(ge=1, le=366)
    call_pause_days_after_conversation: int = Field(ge=0, le=366)
    mediator_hours: WindowField
    mediator_workdays: tuple[int, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        known_zone(value)
        return value

    @field_validator("mediator_workdays")
    @classmethod
    def _iso_weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= day <= 7 for day in value) or len(set(value)) != len(value):
            raise ValueError("expected distinct ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return tuple(sorted(value))

    @property
    def zone(self) -> ZoneInfo:
        """The profile's time zone, used for recipients whose own zone is unknown."""
        return ZoneInfo(self.timezone)


_PROFILE_KEYS = set(PolicyProfile.model_fields) - {"name"}


def load_profiles(path: Path) -> dict[str, PolicyProfile]:
    """Every profile in the policy file at ``path``, validated; :class:`SettingsError` names each bad key."""
    from contactfix.settings import read_toml

    raw = read_toml(path, "policy file")

    problems = [f"{key}: unknown key in {path}" for key in sorted(set(raw) - {"profiles"})]
    tables = raw.get("profiles")
    if not isinstance(tables, dict) or not tables:
        problems.append(f"profiles: {path} defines no [profiles.<name>] table")
        tables = {}
    profiles: dict[str, PolicyProfile] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            problems.append(f"profiles.{name}: expected a table of rules")
            continue
        profile, found = _validate_profile(name, table, path)
        problems += found
        if profile is not None:
            profiles[name] = profile
    if problems:
        raise SettingsError("; ".join(problems))
    return profiles


def _validate_profile(name: str, table: dict[str, Any], path: Path) -> tuple[PolicyProfile | None, list[str]]:
    problems = [f"profiles.{name}.{key}: unknown key in {path}" for key in sorted(set(table) - _PROFILE_KEYS)]
    values = {key: value for key, value in table.items() if key in _PROFILE_KEYS}
    try:
        return PolicyProfile.model_validate({**values, "name": name}), problems
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"][:1]) or "?"
            problems.append(f"profiles.{name}.{key}: {err['msg']}")
        return None, problems


def default_policy_path() -> Path:
    """``policy.toml`` beside the settings' ``default.toml``, else the source tree's ``config/``."""
    from contactfix.settings import config_dir

    directory = config_dir()
    if directory is not None and (directory / POLICY_FILE_NAME).is_file():
        return directory / POLICY_FILE_NAME
    return Path(__file__).resolve().parents[2] / "config" / POLICY_FILE_NAME


def load_profile(name: str = "cn", path: Path | None = None) -> PolicyProfile:
    """The profile called ``name`` (China, ``cn``, by default) from ``path`` or the default policy file."""
    source = default_policy_path() if path is None else path
    profiles = load_profiles(source)
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        raise SettingsError(f"policy_profile: no profile {name!r} in {source} (known: {known})")
    return profiles[name]
