"""Tables of access: the users of each organisation and their API tokens. Migration ``0006`` builds
exactly this (and adds ``audit_log.organization_id``: which organisation a caller acted for).

A token is stored only as its SHA-256: a token is 256 random bits, so a fast hash is as safe as a
slow one and lets every request be checked with one indexed lookup. Passwords (optional, for the
web pages) are argon2 hashes (:mod:`contactfix.access.passwords`).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from contactfix.db.models import Base, UtcDateTime, one_of

__all__ = ["ApiToken", "LoginFailure", "User", "UserRole"]


class UserRole(StrEnum):
    """What a user does: a bank's staff, a mediator of a center, an operator of the service."""

    BANK = "bank"
    MEDIATOR = "mediator"
    OPERATOR = "operator"


class User(Base):
    """A person who signs in: one organisation, one role; a mediator user is one mediator."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", UserRole),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(10), nullable=False)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("mediators.id"), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())


class ApiToken(Base):
    """One bearer token of one user, as its SHA-256; revoked tokens stay, with when."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class LoginFailure(Base):
    """One failed sign-in, under the keyed hash of what it is counted against (the login, the client
    address): kept in the database so that every server process counts the same failures."""

    __tablename__ = "login_failures"
    __table_args__ = (Index(None, "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), nullable=False, index=True)
