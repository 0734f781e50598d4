"""The one error root of the application and its readable tree.

ContactfixError
├── SettingsError          a setting is unknown or has a bad value (start-up stops)
├── IntakeError            a file cannot be taken in at all (not a table, bad encoding, no header)
├── NotFound               a reference, organization or record does not exist
├── PolicyInputError       a contact attempt the policy gate cannot judge (contactfix.policy)
└── DispatchError          (contactfix.dispatch.errors)
    ├── DispatchUnavailable    Redis or the broker does not answer: retry later
    └── InvalidRateLimit       a rate limit that can never be met
"""

from __future__ import annotations


class ContactfixError(Exception):
    """Root of every error contactfix raises on purpose; the CLI prints these without a traceback."""


class SettingsError(ContactfixError, ValueError):
    """A setting is unknown or invalid. The message names every offending key."""


class IntakeError(ContactfixError, ValueError):
    """A whole file cannot be taken in. Row-level problems are warnings or rejections, not this."""


class NotFound(ContactfixError, LookupError):
    """What was asked for does not exist."""
