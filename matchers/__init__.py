"""matchers: Chinese-aware probabilistic entity resolution.

Knows people, companies and their identifiers; knows nothing of databases, queues or HTTP.
Normalise → block → compare → score → cluster → explain.
"""

from __future__ import annotations

from matchers.errors import (
    InputError,
    InvalidCaseNumber,
    InvalidCreditCode,
    InvalidIdentifier,
    InvalidIdNumber,
    InvalidPhone,
    MatchersError,
)

__all__ = [
    "InputError",
    "InvalidCaseNumber",
    "InvalidCreditCode",
    "InvalidIdNumber",
    "InvalidIdentifier",
    "InvalidPhone",
    "MatchersError",
]
