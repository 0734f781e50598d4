"""The contact policy applied to one dispatch: the mediator's hours and the debtor's contact rules.

A dispatch texts the mediator a call path to the debtor, so two parties are contacted: the mediator
(by SMS, within their working hours) and, through the mediator's call, the debtor (within the
debtor's contact hours and call caps, never after an objection or on the do-not-contact list). It may
go out only when both allow it; otherwise it waits for the earliest instant both do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from contactfix.policy import ContactAttempt, ContactHistory, Decision, PolicyProfile, evaluate

__all__ = ["Party", "decide"]

# Each round moves the candidate instant to a later one; the rules settle in a few.
_MAX_ROUNDS = 20


@dataclass(frozen=True, slots=True)
class Party:
    """One party the dispatch contacts: the attempt and what happened with that contact so far."""

    attempt: ContactAttempt
    history: ContactHistory


def decide(parties: Sequence[Party], profile: PolicyProfile, now: dt.datetime) -> Decision:
    """Allowed when every party's rules allow ``now``; a stop blocks; else deferred to when all allow."""
    first = [evaluate(p.attempt, p.history, profile, now) for p in parties]
    blocked = next((d for d in first if d.blocked), None)
    if blocked is not None:
        return blocked
    refusing = next((d for d in first if not d.allowed), None)
    if refusing is None:
        return first[0]
    candidate = now
    for _ in range(_MAX_ROUNDS):
        decisions = [evaluate(p.attempt, p.history, profile, candidate) for p in parties]
        waits = [d.defer_until for d in decisions if d.defer_until is not None and not d.allowed]
        if not waits:
            break
        candidate = max(waits)
    why = refusing.reason.split(";")[0]
    reason = f"{why}; deferred to {candidate.astimezone(profile.zone):%Y-%m-%d %H:%M} {profile.timezone}"
    return Decision(allowed=False, rule=refusing.rule, reason=reason, defer_until=candidate)
