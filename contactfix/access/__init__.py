"""Access: who the caller is (API tokens, passwords) and what they may see or do.

Every API route asks :func:`require` (may this role do it?) and :func:`scope` (which rows are
theirs?); a bank's view of identities other banks share is :class:`ContactView`. Everything public is
exported here.
"""

from __future__ import annotations

from contactfix.access.accounts import (
    NewUser,
    add_organization,
    add_user,
    find_organization,
    issue_token,
    revoke_user,
)
from contactfix.access.audit import audit, audit_now
from contactfix.access.caller import Caller, authenticate, bearer_token, session_caller, sign_in
from contactfix.access.credentials import hash_password, new_token, password_matches, token_hash
from contactfix.access.errors import AccessError, Forbidden, InvalidAccount, Unauthenticated
from contactfix.access.policy import ANOTHER_BANK, Action, ContactView, Resource, may, require, scope

__all__ = [
    "ANOTHER_BANK",
    "AccessError",
    "Action",
    "Caller",
    "ContactView",
    "Forbidden",
    "InvalidAccount",
    "NewUser",
    "Resource",
    "Unauthenticated",
    "add_organization",
    "add_user",
    "audit",
    "audit_now",
    "authenticate",
    "bearer_token",
    "find_organization",
    "hash_password",
    "issue_token",
    "may",
    "new_token",
    "password_matches",
    "require",
    "revoke_user",
    "scope",
    "session_caller",
    "sign_in",
    "token_hash",
]
