"""Errors of access: who the caller is, and what they may do.

ContactfixError
└── AccessError
    ├── Unauthenticated     no token, or one that is unknown or revoked (HTTP 401)
    ├── Forbidden           the caller's role may not do this (HTTP 403)
    └── InvalidAccount      an organisation or user that cannot be created as asked (a ValueError)

Another organisation's object is :class:`contactfix.errors.NotFound` (HTTP 404), never Forbidden:
its existence must not leak.
"""

from __future__ import annotations

from contactfix.errors import ContactfixError

__all__ = ["AccessError", "Forbidden", "InvalidAccount", "Unauthenticated"]


class AccessError(ContactfixError):
    """Root of the access errors."""


class Unauthenticated(AccessError):
    """No valid credentials: a missing, unknown or revoked token."""


class Forbidden(AccessError):
    """The caller is known, but their role may not do this."""


class InvalidAccount(AccessError, ValueError):
    """An organisation or user cannot be created or changed as asked; the message says why."""
