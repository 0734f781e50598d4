"""Local-time arithmetic under DST gaps, repeated hours and a skipped day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from contactfix.policy import Window
from contactfix.policy.timing import CallCap, Hours, Pause, day_start, first_instant_at, local_day

NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
APIA = ZoneInfo("Pacific/Apia")


def test_a_wall_time_that_exists_maps_to_itself() -> None:
    assert first_instant_at(date(2024, 5, 8), 8 * 60, NEW_YORK) == datetime(2024, 5, 8, 12, 0, tzinfo=UTC)


def test_a_wall_time_in_the_spring_gap_maps_to_the_transition() -> None:
    # 2024-03-10 02:30 never shows in New York: 01:59:59 EST is followed by 03:00:00 EDT (07:00 UTC).
    assert first_instant_at(date(2024, 3, 10), 2 * 60 + 30, NEW_YORK) == datetime(
        2024, 3, 10, 7, 0, tzinfo=UTC
    )


def test_a_repeated_wall_time_maps_to_its_first_occurrence() -> None:
    # 2024-11-03 01:30 shows twice in New York, first as EDT (05:30 UTC).
    assert first_instant_at(date(2024, 11, 3), 90, NEW_YORK) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_midnight_in_a_gap_starts_the_day_at_the_transition() -> None:
    # Chile sprang forward at 2024-09-08 00:00 -> 01:00: that day began at 01:00 local (04:00 UTC).
    assert day_start(date(2024, 9, 8), SANTIAGO) == datetime(2024, 9, 8, 4, 0, tzinfo=UTC)
    assert local_day(datetime(2024, 9, 8, 4, 0, tzinfo=UTC), SANTIAGO) == date(2024, 9, 8)
    assert local_day(datetime(2024, 9, 8, 3, 59, 59, tzinfo=UTC), SANTIAGO) == date(2024, 9, 7)


def test_a_skipped_day_has_no_window() -> None:
    # Samoa skipped 2011-12-30 entirely: the evening of the 29th is followed by the 31st.
    evening = datetime(2011, 12, 29, 22, 0, tzinfo=APIA)
    hours = Hours(Window.parse("08:00-21:00"), APIA)
    assert not hours.allows(evening)
    assert hours.earliest_from(evening) == datetime(2011, 12, 31, 8, 0, tzinfo=APIA)
    assert day_start(date(2011, 12, 30), APIA) == day_start(date(2011, 12, 31), APIA)


def test_a_window_starting_in_the_gap_opens_at_the_transition() -> None:
    hours = Hours(Window.parse("02:30-05:00"), NEW_YORK)
    before = datetime(2024, 3, 10, 1, 0, tzinfo=NEW_YORK)
    opens = hours.earliest_from(before)
    assert opens == datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    assert hours.allows(opens) and not hours.allows(opens - timedelta(microseconds=1))


def test_the_repeated_hour_belongs_to_the_day_it_repeats_in() -> None:
    second_one_thirty = datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST, the second time round
    assert local_day(second_one_thirty, NEW_YORK) == date(2024, 11, 3)


def test_call_cap_waits_until_enough_calls_leave_the_period() -> None:
    calls = [datetime(2024, 5, day, 9, 0, tzinfo=NEW_YORK) for day in (1, 1, 3)]
    cap = CallCap.of(3, 3, calls, NEW_YORK)
    now = datetime(2024, 5, 3, 12, 0, tzinfo=NEW_YORK)
    assert not cap.allows(now)
    # Both May 1 calls leave when May 4 begins.
    assert cap.earliest_from(now) == datetime(2024, 5, 4, 0, 0, tzinfo=NEW_YORK)
    assert cap.allows(datetime(2024, 5, 4, 0, 0, tzinfo=NEW_YORK))


def test_a_call_dated_in_the_future_still_counts() -> None:
    skewed = [datetime(2024, 5, 9, 9, 0, tzinfo=NEW_YORK)]
    assert not CallCap.of(1, 1, skewed, NEW_YORK).allows(datetime(2024, 5, 8, 12, 0, tzinfo=NEW_YORK))


def test_pause_lifts_at_the_start_of_its_day() -> None:
    pause = Pause(date(2024, 5, 8), NEW_YORK)
    midnight = datetime(2024, 5, 8, 0, 0, tzinfo=NEW_YORK)
    assert not pause.allows(midnight - timedelta(microseconds=1)) and pause.allows(midnight)
    assert pause.earliest_from(datetime(2024, 5, 1, tzinfo=UTC)) == midnight
