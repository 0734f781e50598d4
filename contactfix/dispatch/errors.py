"""Errors of the dispatch pipeline.

ContactfixError
└── DispatchError
    ├── DispatchUnavailable   a service dispatch relies on (Redis) is down: retry the task later
    ├── InvalidRateLimit      a rate limit or bucket key that can never work (a programming error)
    └── MediatorError         a mediator that cannot be added or assigned (the message says why)
"""

from __future__ import annotations

from contactfix.errors import ContactfixError


class DispatchError(ContactfixError):
    """Root of the errors the dispatch pipeline raises on purpose."""


class DispatchUnavailable(DispatchError):
    """Retryable: a service dispatch needs cannot be reached now; retry the task later."""


class InvalidRateLimit(DispatchError, ValueError):
    """A rate, burst, cost or key that no bucket can honour."""


class MediatorError(DispatchError, ValueError):
    """A mediator's name, phone, center or hours is unusable, or no mediator can take a case."""
