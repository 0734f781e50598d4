"""Who is calling: the user behind a bearer token, with their organisation and role.

One lookup (token → user → organisation) answers it; the web pages' sessions will resolve to the
same :class:`Caller`, so every permission check downstream is the same whatever the credential.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from contactfix.access.credentials import TOKEN_PREFIX, token_hash
from contactfix.access.errors import Unauthenticated
from contactfix.db.access_models import ApiToken, User, UserRole
from contactfix.db.models import Organization

__all__ = ["Caller", "authenticate", "bearer_token"]

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


def authenticate(connection: Connection, token: str) -> Caller:
    """The caller that ``token`` belongs to; :class:`Unauthenticated` for an unknown or revoked one."""
    query = (
        select(
            User.id, User.login, User.role, User.organization_id, Organization.name, Organization.kind,
            User.mediator_id,
        )
        .select_from(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .join(Organization, Organization.id == User.organization_id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None), User.active.is_(True))
    )  # fmt: skip
    row = connection.execute(query).first()
    if row is None:
        raise Unauthenticated("unknown or revoked token")
    user_id, login, role, organization_id, organization, kind, mediator_id = row
    return Caller(int(user_id), login, UserRole(role), int(organization_id), organization, kind, mediator_id)
