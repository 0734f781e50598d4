"""Organisations and users: create, give a token, revoke. The CLI's ``orgs`` and ``users`` call these.

Rules a user must meet: a bank user belongs to a bank; a mediator belongs to a mediation center or
court and is one of its mediators (``mediators.center`` is the organisation's name); an operator
belongs to a mediation center or court. Logins must not look like an ID or phone number: they end
up in the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from contactfix.access.credentials import hash_password, new_token, token_hash
from contactfix.access.errors import InvalidAccount
from contactfix.db.access_models import ApiToken, User, UserRole
from contactfix.db.audit import find_personal_data, record_audit
from contactfix.db.dispatch_models import Mediator
from contactfix.db.models import Organization, OrganizationKind
from contactfix.errors import NotFound

__all__ = ["NewUser", "add_organization", "add_user", "find_organization", "issue_token", "revoke_user"]

_KINDS_OF_ROLE: dict[UserRole, frozenset[OrganizationKind]] = {
    UserRole.BANK: frozenset({OrganizationKind.BANK}),
    UserRole.MEDIATOR: frozenset({OrganizationKind.MEDIATION_CENTER, OrganizationKind.COURT}),
    UserRole.OPERATOR: frozenset({OrganizationKind.MEDIATION_CENTER, OrganizationKind.COURT}),
}
_LOGIN_LENGTH = 100
_NAME_LENGTH = 200
_MIN_PASSWORD = 8


@dataclass(frozen=True)
class NewUser:
    """A user just created, and the token it can call the API with (shown once, never stored)."""

    login: str
    organization: str
    role: UserRole
    token: str


def find_organization(session: Session, name: str) -> Organization:
    """The organisation called ``name``; :class:`NotFound` when there is none."""
    found = session.scalar(select(Organization).where(Organization.name == name.strip()))
    if found is None:
        raise NotFound(f"no organisation named {name.strip()!r}; add it with `contactfix orgs add`")
    return found


def add_organization(session: Session, name: str, kind: str) -> tuple[Organization, bool]:
    """The organisation ``name`` of ``kind``, and whether it was created (re-adding is a no-op).

    :class:`InvalidAccount` for an unknown kind, a bad name, or a name already taken by another kind.
    """
    name = name.strip()
    if not name or len(name) > _NAME_LENGTH:
        raise InvalidAccount(f"name: give the organisation's name (1-{_NAME_LENGTH} characters)")
    if kind not in {k.value for k in OrganizationKind}:
        raise InvalidAccount(f"kind: {kind!r} is not one of {', '.join(k.value for k in OrganizationKind)}")
    existing = session.scalar(select(Organization).where(Organization.name == name))
    if existing is not None:
        if existing.kind != kind:
            raise InvalidAccount(f"{name} already exists as a {existing.kind}, not a {kind}")
        return existing, False
    organization = Organization(name=name, kind=kind)
    session.add(organization)
    session.flush()
    record_audit(session, "cli", "organization.add", "organization", organization.id, kind=kind)
    return organization, True


def issue_token(session: Session, user: User) -> str:
    """A new API token for ``user``; only its hash is stored."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    session.flush()
    return token


def add_user(
    session: Session,
    login: str,
    organization: str,
    role: str,
    *,
    mediator: str | None = None,
    password: str | None = None,
) -> NewUser:
    """Create user ``login`` of ``organization`` with ``role`` and a first API token.

    ``mediator`` (the mediator's name in the organisation, which is their center) is required for a
    mediator and refused otherwise. :class:`InvalidAccount` or :class:`NotFound` say what is wrong.
    """
    login = login.strip()
    if not login or len(login) > _LOGIN_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in login):
        raise InvalidAccount(f"login: 1-{_LOGIN_LENGTH} printable characters without spaces")
    if find_personal_data(login) is not None:
        raise InvalidAccount(
            "login: must not look like an ID or phone number (it is written to the audit log)"
        )
    if role not in {r.value for r in UserRole}:
        raise InvalidAccount(f"role: {role!r} is not one of {', '.join(r.value for r in UserRole)}")
    user_role = UserRole(role)
    org = find_organization(session, organization)
    if OrganizationKind(org.kind) not in _KINDS_OF_ROLE[user_role]:
        kinds = " or ".join(sorted(k.value for k in _KINDS_OF_ROLE[user_role]))
        raise InvalidAccount(f"role: a {role} user belongs to a {kinds}; {org.name} is a {org.kind}")
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise InvalidAccount(f"login: {login} is taken")
    mediator_id = _mediator_of(session, user_role, org, mediator)
    if password is not None and len(password) < _MIN_PASSWORD:
        raise InvalidAccount(f"password: at least {_MIN_PASSWORD} characters")
    user = User(
        login=login, organization_id=org.id, role=user_role.value, mediator_id=mediator_id,
        password_hash=hash_password(password) if password is not None else None,
    )  # fmt: skip
    session.add(user)
    session.flush()
    token = issue_token(session, user)
    record_audit(session, "cli", "user.add", "user", user.id, login=login, organization_id=org.id, role=role)
    return NewUser(login, org.name, user_role, token)


def _mediator_of(session: Session, role: UserRole, org: Organization, name: str | None) -> int | None:
    if role is not UserRole.MEDIATOR:
        if name is not None:
            raise InvalidAccount("mediator: only a mediator user is tied to a mediator")
        return None
    if not name or not name.strip():
        raise InvalidAccount(f"mediator: say which mediator of {org.name} this user is (--mediator NAME)")
    found = session.scalar(
        select(Mediator.id).where(Mediator.center == org.name, Mediator.name == name.strip())
    )
    if found is None:
        raise NotFound(
            f"mediator: {org.name} has no mediator called {name.strip()} "
            f"(`contactfix mediators add {name.strip()} --center {org.name} …`)"
        )
    return int(found)


def revoke_user(session: Session, login: str) -> int:
    """Revoke every token of ``login`` (the user can no longer call the API); how many were live."""
    user_id = session.scalar(select(User.id).where(User.login == login.strip()))
    if user_id is None:
        raise NotFound(f"no user with login {login.strip()!r}")
    revoked: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC))
    )
    record_audit(session, "cli", "user.revoke", "user", user_id, tokens=int(revoked.rowcount or 0))
    return int(revoked.rowcount or 0)
