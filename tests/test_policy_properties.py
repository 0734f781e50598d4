"""Properties of the policy gate over random zones, hours, caps, histories and clocks (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactfix.policy import (
    ContactAttempt,
    ContactHistory,
    Decision,
    PolicyProfile,
    Rule,
    Window,
    evaluate,
    load_profile,
)
from contactfix.policy.timing import day_start, first_instant_at, local_day

CN = load_profile("cn", Path(__file__).resolve().parents[1] / "config" / "policy.toml")
# China, the US, and zones with odd transitions: half-hour DST, midnight DST, a skipped day.
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Apia",
    "Asia/Kolkata",
    "America/St_Johns",
]
# Zones whose 08:00 and 21:00 always exist and never repeat, for the exact edge tests.
PLAIN_EDGE_ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney"]
STOPS = {Rule.OBJECTION, Rule.DO_NOT_CONTACT, Rule.THIRD_PARTY_DEBT_DISCLOSURE, Rule.THIRD_PARTY_NOT_LOST}
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

instants = st.datetimes(
    min_value=datetime(2005, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(st.integers(0, 24 * 60 - 1))
    return Window(start, draw(st.integers(start + 1, 24 * 60)))


@st.composite
def profiles(draw: st.DrawFn) -> PolicyProfile:
    return PolicyProfile(
        name="drawn",
        timezone=draw(st.sampled_from(ZONES)),
        contact_window=draw(windows()),
        daily_call_cap=draw(st.integers(0, 6)),
        rolling_call_cap=draw(st.integers(0, 8)),
        rolling_call_days=draw(st.integers(1, 9)),
        call_pause_days_after_conversation=draw(st.integers(0, 8)),
        mediator_hours=draw(windows()),
        mediator_workdays=tuple(draw(st.sets(st.integers(1, 7), min_size=1))),
    )


@st.composite
def attempts(draw: st.DrawFn) -> ContactAttempt:
    return ContactAttempt(
        recipient=draw(st.sampled_from(["debtor", "third_party", "mediator"])),
        channel=draw(st.sampled_from(["sms", "call"])),
        mentions_debt=draw(st.booleans()),
        timezone=draw(st.none() | st.sampled_from(ZONES)),
        debtor_confirmed_lost=draw(st.booleans()),
        mediator_hours=draw(st.none() | windows()),
    )


@st.composite
def histories(draw: st.DrawFn, now: datetime) -> ContactHistory:
    offsets = st.integers(-10 * 24 * 3600, 3600)  # mostly the past, a little clock skew
    return ContactHistory(
        call_attempts=tuple(now + timedelta(seconds=s) for s in draw(st.lists(offsets, max_size=12))),
        do_not_contact=draw(st.booleans()) and draw(st.booleans()),
        objected=draw(st.booleans()) and draw(st.booleans()),
        last_conversation_at=draw(st.none() | offsets.map(lambda s: now + timedelta(seconds=s))),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[ContactAttempt, ContactHistory, PolicyProfile, datetime]:
    now = draw(instants)
    return draw(attempts()), draw(histories(now)), draw(profiles()), now


@cache
def transitions() -> list[tuple[str, date, int]]:
    """(zone, local day, local minute just before) of every offset change in ZONES, 2010-2030."""
    found = []
    for name in ZONES:
        zone = ZoneInfo(name)
        instant, step = datetime(2010, 1, 1, tzinfo=UTC), timedelta(hours=12)
        while instant.year < 2031:
            low, high = instant, instant + step
            if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
                while high - low > timedelta(minutes=1):
                    middle = low + (high - low) / 2
                    same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                    low, high = (middle, high) if same else (low, middle)
                wall = low.astimezone(zone)
                found.append((name, wall.date(), wall.hour * 60 + wall.minute))
            instant += step
    return found


@st.composite
def transition_cases(draw: st.DrawFn) -> tuple[ContactAttempt, ContactHistory, PolicyProfile, datetime]:
    """Cases whose window opens or closes close to a clock change, where wall clocks jump or repeat."""
    name, day, minute = draw(st.sampled_from(transitions()))
    start = min(max(minute + draw(st.integers(-30, 120)), 0), 24 * 60 - 1)
    end = draw(st.integers(start + 1, min(24 * 60, start + draw(st.sampled_from([1, 30, 90, 600, 1440])))))
    window = Window(start, end)
    update = {"timezone": name, "contact_window": window, "mediator_hours": window}
    profile = draw(profiles()).model_copy(update=update)
    attempt = replace(draw(attempts()), timezone=None, mediator_hours=None)
    now = day_start(day, ZoneInfo(name)) + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))
    return attempt, draw(histories(now)), profile, now


def hours_of(attempt: ContactAttempt, profile: PolicyProfile) -> Window:
    if attempt.recipient == "mediator":
        return attempt.mediator_hours or profile.mediator_hours
    return profile.contact_window


def zone_of(attempt: ContactAttempt, profile: PolicyProfile) -> ZoneInfo:
    return ZoneInfo(attempt.timezone) if attempt.timezone else profile.zone


@PROPERTY_SETTINGS
@given(cases())
def test_a_decision_is_allowed_deferred_or_blocked_and_never_silent(
    case: tuple[ContactAttempt, ContactHistory, PolicyProfile, datetime],
) -> None:
    decision = evaluate(*case)
    assert decision.reason
    if decision.allowed:
        assert decision.rule == Rule.ALLOWED and decision.defer_until is None
    elif decision.defer_until is None:
        assert decision.rule in STOPS
    else:
        assert decision.rule not in STOPS | {Rule.ALLOWED}


@PROPERTY_SETTINGS
@given(st.one_of(cases(), transition_cases()))
def test_defer_until_is_the_earliest_allowed_instant_inside_the_window(
    case: tuple[ContactAttempt, ContactHistory, PolicyProfile, datetime],
) -> None:
    attempt, history, profile, now = case
    decision = evaluate(attempt, history, profile, now)
    if not decision.deferred:
        return
    until = decision.defer_until
    assert until is not None and until.tzinfo is UTC and until > now
    zone, window = zone_of(attempt, profile), hours_of(attempt, profile)
    wall = until.astimezone(zone)
    minute = wall.hour * 60 + wall.minute + wall.second / 60 + wall.microsecond / 60e6
    assert window.start_minute <= minute < window.end_minute
    if attempt.recipient == "mediator":
        assert local_day(until, zone).isoweekday() in profile.mediator_workdays
    # Evaluated then, nothing holds it back any more, the rule that deferred it included ...
    assert evaluate(attempt, history, profile, until).allowed
    # ... and a microsecond earlier something still did: no allowed instant was skipped.
    assert not evaluate(attempt, history, profile, until - timedelta(microseconds=1)).allowed


@PROPERTY_SETTINGS
@given(cases(), st.integers(1, 30 * 24 * 3600))
def test_stops_do_not_depend_on_the_clock(
    case: tuple[ContactAttempt, ContactHistory, PolicyProfile, datetime], later_s: int
) -> None:
    attempt, history, profile, now = case
    decision = evaluate(attempt, history, profile, now)
    later = evaluate(attempt, history, profile, now + timedelta(seconds=later_s))
    assert (decision.rule in STOPS) == (later.rule in STOPS)
    if decision.rule in STOPS:
        assert later == decision


@PROPERTY_SETTINGS
@given(st.data())
def test_first_instant_at_is_exact_around_clock_changes(data: st.DataObject) -> None:
    name, day, minute = data.draw(st.sampled_from(transitions()))
    target_minute = data.draw(st.integers(max(minute - 90, 0), min(minute + 150, 24 * 60)))
    zone = ZoneInfo(name)
    first = first_instant_at(day, target_minute, zone)
    target = datetime.combine(day, time()) + timedelta(minutes=target_minute)
    assert first.astimezone(zone).replace(tzinfo=None) >= target
    assert (first - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) < target


def test_the_transition_cases_include_gaps_and_repeats() -> None:
    zones = {name for name, _, _ in transitions()}
    assert {"America/New_York", "America/Santiago", "Pacific/Apia", "Australia/Lord_Howe"} <= zones
    assert "Asia/Shanghai" not in zones  # China has had no clock change since 1991


def local_instant(day: date, wall: time, zone: str) -> datetime:
    return datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).astimezone(UTC)


edge_days = st.dates(min_value=date(2005, 1, 1), max_value=date(2035, 12, 31))
edge_zones = st.sampled_from(PLAIN_EDGE_ZONES)
channels = st.sampled_from(["sms", "call"])


def debtor(zone: str, channel: str) -> ContactAttempt:
    return ContactAttempt(recipient="debtor", channel=channel, mentions_debt=True, timezone=zone)  # type: ignore[arg-type]


def decide(zone: str, channel: str, day: date, wall: time) -> Decision:
    return evaluate(debtor(zone, channel), ContactHistory(), CN, local_instant(day, wall, zone))


@PROPERTY_SETTINGS
@given(edge_days, edge_zones, channels)
def test_window_edges_on_any_day_in_any_zone(day: date, zone: str, channel: str) -> None:
    assert decide(zone, channel, day, time(8, 0, 0)).allowed
    assert decide(zone, channel, day, time(20, 59, 59)).allowed
    before = decide(zone, channel, day, time(7, 59, 59))
    assert before.rule == Rule.QUIET_HOURS
    assert before.defer_until == local_instant(day, time(8, 0), zone)
    closing = decide(zone, channel, day, time(21, 0, 0))
    assert closing.rule == Rule.QUIET_HOURS
    assert closing.defer_until == local_instant(day + timedelta(days=1), time(8, 0), zone)
