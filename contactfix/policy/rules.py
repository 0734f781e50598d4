"""The contact policy gate: may this message or call go out now, and if not, until when must it wait?

:func:`evaluate` is pure: the same attempt, history, profile and clock give the same decision. Rules
come in two kinds. Stops (objection, do-not-contact, third-party rules) refuse for good: no later time
helps, so the decision carries no ``defer_until`` and the dispatch is marked blocked, never silently
dropped. Time rules (hours, caps, pauses) defer: ``defer_until`` is the earliest instant at which
*every* time rule allows the attempt, so re-evaluating then lets it through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol, get_args
from zoneinfo import ZoneInfo

from contactfix.errors import ContactfixError
from contactfix.policy.profile import PolicyInputError, PolicyProfile, Window, known_zone
from contactfix.policy.timing import CallCap, Hours, Pause, local_day

RecipientKind = Literal["debtor", "third_party", "mediator"]
Channel = Literal["sms", "call"]

# Each time rule moves the candidate instant forward; a handful of rounds always settles.
_MAX_ROUNDS = 100


class Rule(StrEnum):
    """Stable ids of the rules a decision can cite; stored with every decision, so never rename one."""

    ALLOWED = "allowed"
    OBJECTION = "objection"
    DO_NOT_CONTACT = "do_not_contact"
    THIRD_PARTY_DEBT_DISCLOSURE = "third_party_debt_disclosure"
    THIRD_PARTY_NOT_LOST = "third_party_not_lost"
    QUIET_HOURS = "quiet_hours"
    MEDIATOR_HOURS = "mediator_hours"
    DAILY_CALL_CAP = "daily_call_cap"
    ROLLING_CALL_CAP = "rolling_call_cap"
    CONVERSATION_PAUSE = "conversation_pause"
    # Not a contact rule but a fact the sender checks: a carrier's virtual number past its due date
    # reaches nobody (or somebody else) and may never be dispatched.
    CARRIER_NUMBER_EXPIRED = "carrier_number_expired"


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PolicyInputError(f"{what} must be a time-zone-aware datetime")
    return value


@dataclass(frozen=True, slots=True)
class ContactAttempt:
    """One message or call about to go out. It carries no phone number, so nothing here is PII.

    ``mentions_debt`` has no default on purpose: whoever builds a third-party message must say.
    ``timezone`` is the recipient's IANA zone (None: the profile's). ``mediator_hours`` are the
    mediator's own working hours (None: the profile's default).
    """

    recipient: RecipientKind
    channel: Channel
    mentions_debt: bool
    timezone: str | None = None
    debtor_confirmed_lost: bool = False
    mediator_hours: Window | None = None

    def __post_init__(self) -> None:
        if self.recipient not in get_args(RecipientKind):
            raise PolicyInputError(f"unknown recipient kind {self.recipient!r}")
        if self.channel not in get_args(Channel):
            raise PolicyInputError(f"unknown channel {self.channel!r}")
        if self.timezone is not None:
            known_zone(self.timezone)


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """What has happened with this contact so far (one phone number of one recipient).

    ``call_attempts`` are the instants of earlier call attempts (answered or not); the gate counts
    them per local day of the recipient itself, so callers need not know where days begin.
    """

    call_attempts: tuple[datetime, ...] = ()
    do_not_contact: bool = False
    objected: bool = False
    last_conversation_at: datetime | None = None

    def __post_init__(self) -> None:
        for attempt in self.call_attempts:
            _aware(attempt, "every call attempt")
        if self.last_conversation_at is not None:
            _aware(self.last_conversation_at, "last_conversation_at")


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer, recorded with the dispatch: which rule decided, and why, without PII.

    Allowed: ``rule == "allowed"``. Deferred: not allowed, ``defer_until`` is the next allowed
    instant (UTC). Blocked: not allowed and ``defer_until`` is None — no later time helps.
    """

    allowed: bool
    rule: Rule
    reason: str
    defer_until: datetime | None = None

    @property
    def deferred(self) -> bool:
        """True when the attempt must wait until ``defer_until`` and then be evaluated again."""
        return not self.allowed and self.defer_until is not None

    @property
    def blocked(self) -> bool:
        """True when the attempt is refused for good; the dispatch is marked blocked, not dropped."""
        return not self.allowed and self.defer_until is None


class TimeConstraint(Protocol):
    """A rule that only time can satisfy (see :mod:`contactfix.policy.timing`)."""

    def allows(self, instant: datetime) -> bool: ...

    def earliest_from(self, instant: datetime) -> datetime: ...


@dataclass(frozen=True, slots=True)
class _TimeRule:
    rule: Rule
    constraint: TimeConstraint
    why: str


def evaluate(
    attempt: ContactAttempt, history: ContactHistory, profile: PolicyProfile, now: datetime
) -> Decision:
    """Decide whether ``attempt`` may go out at ``now`` under ``profile``, citing the deciding rule.

    Stops are checked first and refuse for good; then the time rules, the first one that refuses
    ``now`` is cited and ``defer_until`` is the earliest instant all of them allow. Raise
    :class:`PolicyInputError` for a naive ``now`` or malformed input.
    """
    now = _aware(now, "now")
    stop = _stop(attempt, history)
    if stop is not None:
        return Decision(allowed=False, rule=stop[0], reason=stop[1])
    zone = known_zone(attempt.timezone) if attempt.timezone else profile.zone
    rules = _time_rules(attempt, history, profile, zone)
    refusing = next((rule for rule in rules if not rule.constraint.allows(now)), None)
    if refusing is None:
        return Decision(allowed=True, rule=Rule.ALLOWED, reason="every contact rule allows it now")
    until = _earliest_allowed([rule.constraint for rule in rules], now)
    local = until.astimezone(zone)
    reason = f"{refusing.why}; deferred to {local:%Y-%m-%d %H:%M} {zone.key} local time"
    return Decision(allowed=False, rule=refusing.rule, reason=reason, defer_until=until.astimezone(UTC))


def _stop(attempt: ContactAttempt, history: ContactHistory) -> tuple[Rule, str] | None:
    if history.objected:
        return Rule.OBJECTION, "the recipient objected to contact; all contact stops"
    if history.do_not_contact:
        return Rule.DO_NOT_CONTACT, "the contact is on the do-not-contact list"
    if attempt.recipient == "third_party":
        if attempt.mentions_debt:
            # A content bug, not a timing problem: waiting would only send the same disclosure later.
            return (
                Rule.THIRD_PARTY_DEBT_DISCLOSURE,
                "a message to a third party must not mention the debt; fix the content",
            )
        if not attempt.debtor_confirmed_lost:
            return (
                Rule.THIRD_PARTY_NOT_LOST,
                "third parties may be contacted only once the debtor is confirmed lost; "
                "dispatch again after confirmation",
            )
    return None


def _time_rules(
    attempt: ContactAttempt, history: ContactHistory, profile: PolicyProfile, zone: ZoneInfo
) -> list[_TimeRule]:
    if attempt.recipient == "mediator":
        # Mediators are colleagues, not debtors: only their working hours apply.
        hours = attempt.mediator_hours or profile.mediator_hours
        workdays = frozenset(profile.mediator_workdays)
        why = f"outside the mediator's working hours {hours} on ISO weekdays {sorted(workdays)}"
        return [_TimeRule(Rule.MEDIATOR_HOURS, Hours(hours, zone, workdays), why)]
    window = profile.contact_window
    rules = [_TimeRule(Rule.QUIET_HOURS, Hours(window, zone), f"outside the contact hours {window}")]
    if attempt.channel != "call":
        return rules
    calls = history.call_attempts
    if profile.daily_call_cap:
        cap = profile.daily_call_cap
        why = f"already {cap} call attempts to this contact today"
        rules.append(_TimeRule(Rule.DAILY_CALL_CAP, CallCap.of(cap, 1, calls, zone), why))
    if profile.rolling_call_cap:
        cap, days = profile.rolling_call_cap, profile.rolling_call_days
        why = f"already {cap} call attempts to this contact within {days} days"
        rules.append(_TimeRule(Rule.ROLLING_CALL_CAP, CallCap.of(cap, days, calls, zone), why))
    pause = profile.call_pause_days_after_conversation
    if pause and history.last_conversation_at is not None:
        until_day = local_day(history.last_conversation_at, zone) + timedelta(days=pause)
        why = f"no calls within {pause} days of a conversation"
        rules.append(_TimeRule(Rule.CONVERSATION_PAUSE, Pause(until_day, zone), why))
    return rules


def _earliest_allowed(constraints: list[TimeConstraint], now: datetime) -> datetime:
    # Each constraint's allowed set is a union of intervals and earliest_from is exact, so moving to
    # the latest of their answers until all agree reaches the earliest instant all of them allow.
    candidate = now
    for _ in range(_MAX_ROUNDS):
        later = max(constraint.earliest_from(candidate) for constraint in constraints)
        if later == candidate:
            return candidate
        candidate = later
    raise ContactfixError("the contact policy rules never agree on a time; check the policy profile")
