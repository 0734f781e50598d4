"""The contact policy gate, rule by rule, with the clock injected (never the hour the tests run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contactfix.policy import (
    ContactAttempt,
    ContactHistory,
    Decision,
    PolicyInputError,
    PolicyProfile,
    Rule,
    Window,
    evaluate,
    load_profile,
)

POLICY_TOML = Path(__file__).resolve().parents[1] / "config" / "policy.toml"
CN = load_profile("cn", POLICY_TOML)
US = load_profile("us", POLICY_TOML)
BEIJING = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")

CALL = ContactAttempt(recipient="debtor", channel="call", mentions_debt=True)
SMS = ContactAttempt(recipient="debtor", channel="sms", mentions_debt=True)
NO_HISTORY = ContactHistory()


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A local wall-clock time in ``zone`` (2024-05-08 is a Wednesday)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def calls(*instants: datetime) -> ContactHistory:
    return ContactHistory(call_attempts=tuple(instants))


def assert_deferred(decision: Decision, rule: Rule, until: datetime) -> None:
    assert (decision.allowed, decision.rule, decision.defer_until) == (False, rule, until)
    assert decision.deferred and not decision.blocked
    assert decision.defer_until is not None and decision.defer_until.tzinfo is UTC


def assert_blocked(decision: Decision, rule: Rule) -> None:
    assert (decision.allowed, decision.rule, decision.defer_until) == (False, rule, None)
    assert decision.blocked and not decision.deferred


def test_rule_ids_are_stable() -> None:
    assert {rule.value for rule in Rule} == {
        "allowed",
        "objection",
        "do_not_contact",
        "third_party_debt_disclosure",
        "third_party_not_lost",
        "quiet_hours",
        "mediator_hours",
        "daily_call_cap",
        "rolling_call_cap",
        "conversation_pause",
        "carrier_number_expired",
    }


def test_a_call_in_hours_is_allowed() -> None:
    decision = evaluate(CALL, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, 10, 0))
    assert decision == Decision(allowed=True, rule=Rule.ALLOWED, reason=decision.reason)
    assert not decision.deferred and not decision.blocked


@pytest.mark.parametrize(
    ("local", "allowed", "until"),
    [
        (at(BEIJING, 2024, 5, 8, 7, 59, 59), False, at(BEIJING, 2024, 5, 8, 8, 0)),
        (at(BEIJING, 2024, 5, 8, 8, 0, 0), True, None),
        (at(BEIJING, 2024, 5, 8, 20, 59, 59), True, None),
        (at(BEIJING, 2024, 5, 8, 21, 0, 0), False, at(BEIJING, 2024, 5, 9, 8, 0)),
        (at(BEIJING, 2024, 5, 8, 22, 30), False, at(BEIJING, 2024, 5, 9, 8, 0)),
        (at(BEIJING, 2024, 5, 8, 0, 0), False, at(BEIJING, 2024, 5, 8, 8, 0)),
        (at(BEIJING, 2024, 12, 31, 23, 0), False, at(BEIJING, 2025, 1, 1, 8, 0)),
    ],
)
def test_quiet_hours_in_beijing(local: datetime, allowed: bool, until: datetime | None) -> None:
    decision = evaluate(SMS, NO_HISTORY, CN, local)
    assert decision.allowed is allowed
    if until is not None:
        assert_deferred(decision, Rule.QUIET_HOURS, until.astimezone(UTC))
        assert "08:00-21:00" in decision.reason


def test_the_debtors_own_time_zone_decides() -> None:
    abroad = ContactAttempt(
        recipient="debtor", channel="sms", mentions_debt=True, timezone="America/Los_Angeles"
    )
    now = utc(2024, 5, 8, 12, 0)  # 20:00 in Beijing, 05:00 in Los Angeles
    assert evaluate(SMS, NO_HISTORY, CN, now).allowed
    assert_deferred(evaluate(abroad, NO_HISTORY, CN, now), Rule.QUIET_HOURS, utc(2024, 5, 8, 15, 0))


def test_objection_and_do_not_contact_block_for_good_even_in_hours() -> None:
    noon = at(BEIJING, 2024, 5, 8, 12, 0)
    assert_blocked(evaluate(CALL, ContactHistory(objected=True), CN, noon), Rule.OBJECTION)
    assert_blocked(evaluate(SMS, ContactHistory(do_not_contact=True), CN, noon), Rule.DO_NOT_CONTACT)


def test_a_stop_outranks_the_clock() -> None:
    night = at(BEIJING, 2024, 5, 8, 23, 0)
    assert_blocked(evaluate(CALL, ContactHistory(objected=True), CN, night), Rule.OBJECTION)


def test_third_parties_only_once_the_debtor_is_confirmed_lost() -> None:
    noon = at(BEIJING, 2024, 5, 8, 12, 0)
    waiting = ContactAttempt(recipient="third_party", channel="call", mentions_debt=False)
    assert_blocked(evaluate(waiting, NO_HISTORY, CN, noon), Rule.THIRD_PARTY_NOT_LOST)
    lost = ContactAttempt(
        recipient="third_party", channel="call", mentions_debt=False, debtor_confirmed_lost=True
    )
    assert evaluate(lost, NO_HISTORY, CN, noon).allowed
    assert_deferred(
        evaluate(lost, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, 21, 30)),
        Rule.QUIET_HOURS,
        at(BEIJING, 2024, 5, 9, 8, 0).astimezone(UTC),
    )


def test_a_third_party_is_never_told_of_the_debt() -> None:
    for lost in (True, False):
        telling = ContactAttempt(
            recipient="third_party", channel="sms", mentions_debt=True, debtor_confirmed_lost=lost
        )
        for hour in (3, 12):
            decision = evaluate(telling, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, hour, 0))
            assert_blocked(decision, Rule.THIRD_PARTY_DEBT_DISCLOSURE)


def test_the_seventh_call_of_the_day_waits_for_tomorrow_morning() -> None:
    today = [at(BEIJING, 2024, 5, 8, 8, 5 * i) for i in range(6)]
    ten = at(BEIJING, 2024, 5, 8, 10, 0)
    assert evaluate(CALL, calls(*today[:5]), CN, ten).allowed
    assert_deferred(
        evaluate(CALL, calls(*today), CN, ten),
        Rule.DAILY_CALL_CAP,
        at(BEIJING, 2024, 5, 9, 8, 0).astimezone(UTC),
    )
    # Messages are not calls: the call cap does not hold them back.
    assert evaluate(SMS, calls(*today), CN, ten).allowed


def test_calls_count_in_the_recipients_local_day_not_the_utc_day() -> None:
    # 2024-05-08 00:30 in Beijing is still 2024-05-07 in UTC: these six calls belong to May 8.
    early = [at(BEIJING, 2024, 5, 8, 0, 30 + i) for i in range(6)]
    assert all(call.astimezone(UTC).day == 7 for call in early)
    assert evaluate(CALL, calls(*early), CN, at(BEIJING, 2024, 5, 8, 10, 0)).rule == Rule.DAILY_CALL_CAP
    assert evaluate(CALL, calls(*early), CN, at(BEIJING, 2024, 5, 9, 8, 0)).allowed


def test_when_hours_and_cap_both_refuse_the_hours_are_cited_and_both_are_waited_out() -> None:
    today = [at(BEIJING, 2024, 5, 8, 9, i) for i in range(6)]
    decision = evaluate(CALL, calls(*today), CN, at(BEIJING, 2024, 5, 8, 22, 0))
    assert_deferred(decision, Rule.QUIET_HOURS, at(BEIJING, 2024, 5, 9, 8, 0).astimezone(UTC))


def test_fdcpa_seven_calls_in_seven_days() -> None:
    week = [at(NEW_YORK, 2024, 5, day, 9, 0) for day in range(1, 8)]
    us_call = ContactAttempt(
        recipient="debtor", channel="call", mentions_debt=True, timezone="America/New_York"
    )
    assert evaluate(us_call, calls(*week[:6]), US, at(NEW_YORK, 2024, 5, 7, 10, 0)).allowed
    decision = evaluate(us_call, calls(*week), US, at(NEW_YORK, 2024, 5, 7, 10, 0))
    # The May 1 call leaves the seven-day period when May 8 begins.
    assert_deferred(decision, Rule.ROLLING_CALL_CAP, at(NEW_YORK, 2024, 5, 8, 8, 0).astimezone(UTC))
    burst = [at(NEW_YORK, 2024, 5, 1, 9, i) for i in range(7)]
    decision = evaluate(us_call, calls(*burst), US, at(NEW_YORK, 2024, 5, 3, 10, 0))
    assert_deferred(decision, Rule.ROLLING_CALL_CAP, at(NEW_YORK, 2024, 5, 8, 8, 0).astimezone(UTC))


def test_fdcpa_pause_after_a_conversation() -> None:
    talked = ContactHistory(last_conversation_at=at(NEW_YORK, 2024, 5, 1, 20, 0))
    us_call = ContactAttempt(recipient="debtor", channel="call", mentions_debt=True)  # profile zone
    decision = evaluate(us_call, talked, US, at(NEW_YORK, 2024, 5, 7, 12, 0))
    assert_deferred(decision, Rule.CONVERSATION_PAUSE, at(NEW_YORK, 2024, 5, 8, 8, 0).astimezone(UTC))
    assert evaluate(us_call, talked, US, at(NEW_YORK, 2024, 5, 8, 8, 0)).allowed
    us_sms = ContactAttempt(recipient="debtor", channel="sms", mentions_debt=True)
    assert evaluate(us_sms, talked, US, at(NEW_YORK, 2024, 5, 2, 12, 0)).allowed
    # The China profile has no such pause.
    assert evaluate(CALL, talked, CN, at(BEIJING, 2024, 5, 2, 12, 0)).allowed


def test_quiet_hours_across_the_spring_forward_night() -> None:
    us_sms = ContactAttempt(recipient="debtor", channel="sms", mentions_debt=True)
    # 2024-03-09 21:30 EST; the clocks jump 02:00 -> 03:00, so 08:00 EDT is 12:00 UTC, not 13:00.
    decision = evaluate(us_sms, NO_HISTORY, US, at(NEW_YORK, 2024, 3, 9, 21, 30))
    assert_deferred(decision, Rule.QUIET_HOURS, utc(2024, 3, 10, 12, 0))


def test_quiet_hours_across_the_fall_back_night() -> None:
    us_sms = ContactAttempt(recipient="debtor", channel="sms", mentions_debt=True)
    decision = evaluate(us_sms, NO_HISTORY, US, at(NEW_YORK, 2024, 11, 2, 21, 30))
    assert_deferred(decision, Rule.QUIET_HOURS, utc(2024, 11, 3, 13, 0))


def test_the_daily_cap_resets_at_local_midnight_on_a_dst_day() -> None:
    in_new_york = ContactAttempt(
        recipient="debtor", channel="call", mentions_debt=True, timezone="America/New_York"
    )
    # 2024-11-03 has 25 hours in New York; six calls that day, the last late in the evening.
    history = calls(*(at(NEW_YORK, 2024, 11, 3, 14 + i, 0) for i in range(6)))
    decision = evaluate(in_new_york, history, CN, at(NEW_YORK, 2024, 11, 3, 20, 0))
    assert_deferred(decision, Rule.DAILY_CALL_CAP, utc(2024, 11, 4, 13, 0))


def test_mediators_within_their_working_hours_and_days() -> None:
    mediator = ContactAttempt(recipient="mediator", channel="sms", mentions_debt=True)
    assert evaluate(mediator, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, 9, 0)).allowed
    assert_deferred(
        evaluate(mediator, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, 18, 0)),
        Rule.MEDIATOR_HOURS,
        at(BEIJING, 2024, 5, 9, 9, 0).astimezone(UTC),
    )
    # Friday evening waits for Monday morning.
    assert_deferred(
        evaluate(mediator, NO_HISTORY, CN, at(BEIJING, 2024, 5, 10, 19, 0)),
        Rule.MEDIATOR_HOURS,
        at(BEIJING, 2024, 5, 13, 9, 0).astimezone(UTC),
    )


def test_a_mediators_own_hours_replace_the_profile_default() -> None:
    late = ContactAttempt(
        recipient="mediator", channel="call", mentions_debt=True, mediator_hours=Window.parse("13:00-20:00")
    )
    assert evaluate(late, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, 19, 30)).allowed
    assert_deferred(
        evaluate(late, NO_HISTORY, CN, at(BEIJING, 2024, 5, 8, 10, 0)),
        Rule.MEDIATOR_HOURS,
        at(BEIJING, 2024, 5, 8, 13, 0).astimezone(UTC),
    )


def test_mediators_are_not_subject_to_debtor_call_caps() -> None:
    mediator = ContactAttempt(recipient="mediator", channel="call", mentions_debt=True)
    history = calls(*(at(BEIJING, 2024, 5, 8, 9, i) for i in range(10)))
    assert evaluate(mediator, history, CN, at(BEIJING, 2024, 5, 8, 10, 0)).allowed


def test_a_profile_can_switch_the_daily_cap_off() -> None:
    no_cap = PolicyProfile.model_validate({**CN.model_dump(), "daily_call_cap": 0})
    history = calls(*(at(BEIJING, 2024, 5, 8, 9, i) for i in range(20)))
    assert evaluate(CALL, history, no_cap, at(BEIJING, 2024, 5, 8, 10, 0)).allowed


def test_malformed_input_is_a_policy_input_error() -> None:
    with pytest.raises(PolicyInputError, match="now"):
        evaluate(CALL, NO_HISTORY, CN, datetime(2024, 5, 8, 10, 0))
    with pytest.raises(PolicyInputError, match="call attempt"):
        ContactHistory(call_attempts=(datetime(2024, 5, 8, 10, 0),))
    with pytest.raises(PolicyInputError, match="Mars/Olympus"):
        ContactAttempt(recipient="debtor", channel="sms", mentions_debt=False, timezone="Mars/Olympus")
    with pytest.raises(PolicyInputError, match="recipient"):
        ContactAttempt(recipient="creditor", channel="sms", mentions_debt=False)  # type: ignore[arg-type]
    with pytest.raises(PolicyInputError, match="channel"):
        ContactAttempt(recipient="debtor", channel="fax", mentions_debt=False)  # type: ignore[arg-type]


def test_the_same_inputs_give_the_same_decision() -> None:
    now = at(BEIJING, 2024, 5, 8, 21, 15)
    first = evaluate(CALL, calls(now - timedelta(hours=2)), CN, now)
    assert first == evaluate(CALL, calls(now - timedelta(hours=2)), CN, now.astimezone(UTC))
