"""Who is calling: the user behind a bearer token, with their organisation and role.

One lookup (token → user → organisation) answers it; the web pages' sessions resolve to the same
:class:`Caller` (:func:`sign_in` checks a password once, :func:`session_caller` looks the signed-in
user up again on every request), so every permission check downstream is the same whatever the
credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from contactfix.access.credentials import TOKEN_PREFIX, password_matches, token_hash
from contactfix.access.errors import Unauthenticated
from contactfix.db.access_models import ApiToken, User, UserRole
from contactfix.db.models import Organization

__all__ = ["Caller", "authenticate", "bearer_token", "session_caller", "sign_in"]

_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Caller:
    """A signed-in user: who, for which organisation, in which role (and, a mediator, which one)."""

    user_id: int
    login: str
    role: UserRole
    organization_id: int
    organization: str
    organization_kind: str
    mediator_id: int | None = None


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header; :class:`Unauthenticated` when there is none."""
    if not authorization:
        raise Unauthenticated("an Authorization: Bearer <token> header is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    if len(token) > _MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("unknown or revoked token")
    return token


def _callers() -> Any:  # a Select of the Caller columns
    return select(
        User.id, User.login, User.role, User.organization_id, Organization.name, Organization.kind,
        User.mediator_id,
    ).join(Organization, Organization.id == User.organization_id)  # fmt: skip


def _caller(row: Any) -> Caller:
    user_id, login, role, organization_id, organization, kind, mediator_id = row
    return Caller(int(user_id), login, UserRole(role), int(organization_id), organization, kind, mediator_id)


# Built once (building and keying a statement costs more than running it): the token's hash is its
# one parameter.
_BY_TOKEN = (
    _callers()
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active.is_(True)
    )
)


def authenticate(connection: Connection, token: str) -> Caller:
    """The caller that ``token`` belongs to; :class:`Unauthenticated` for an unknown or revoked one."""
    row = connection.execute(_BY_TOKEN, {"token_hash": token_hash(token)}).first()
    if row is None:
        raise Unauthenticated("unknown or revoked token")
    return _caller(row)


# Checked when the login is unknown, so that an unknown login costs as long as a wrong password.
_NO_SUCH_USER = (
    "$argon2id$v=19$m=65536,t=3,p=4$bJuNtoMVzkYrp+gjdnALFQ$m18uGuRj5o2aeFEBcxy7wxt3sEdm1owMVJ2Un2ZeBP8"
)


def sign_in(connection: Connection, login: str, password: str) -> Caller:
    """The active user ``login`` whose password is ``password``; :class:`Unauthenticated` otherwise
    (an unknown login, a wrong password and a user without a password are told apart to no one)."""
    query = (
        _callers().add_columns(User.password_hash).where(User.login == login.strip(), User.active.is_(True))
    )
    row = connection.execute(query).first()
    stored = row[-1] if row is not None else None
    if not password_matches(stored or _NO_SUCH_USER, password) or row is None or stored is None:
        raise Unauthenticated("wrong login or password")
    return _caller(row[:-1])


def session_caller(connection: Connection, user_id: int) -> Caller:
    """The caller a web session names, looked up again (a deactivated user is signed out at once)."""
    row = connection.execute(_callers().where(User.id == user_id, User.active.is_(True))).first()
    if row is None:
        raise Unauthenticated("the session's user is no longer active; sign in again")
    return _caller(row)
