"""Contact policy: which messages and calls may go out, when, and which rule decided.

    profile = load_profile("cn")
    decision = evaluate(attempt, history, profile, now)

The China profile (``cn``) is the default; ``config/policy.toml`` holds every profile's rules.
"""

from __future__ import annotations

from contactfix.policy.profile import (
    PolicyInputError,
    PolicyProfile,
    Window,
    default_policy_path,
    load_profile,
    load_profiles,
)
from contactfix.policy.rules import (
    Channel,
    ContactAttempt,
    ContactHistory,
    Decision,
    RecipientKind,
    Rule,
    evaluate,
)

__all__ = [
    "Channel",
    "ContactAttempt",
    "ContactHistory",
    "Decision",
    "PolicyInputError",
    "PolicyProfile",
    "RecipientKind",
    "Rule",
    "Window",
    "default_policy_path",
    "evaluate",
    "load_profile",
    "load_profiles",
]
