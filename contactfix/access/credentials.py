"""Credentials: API tokens (random, stored as SHA-256) and passwords (argon2).

A token is 32 random bytes, URL-safe, behind the prefix ``cfx_`` (so a leaked one is recognisable in
a scan). It is shown once and stored only as its SHA-256: with 256 bits of entropy a fast hash is as
safe as a slow one, and checking a request costs one indexed lookup. Passwords are chosen by people,
so they get argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["TOKEN_PREFIX", "hash_password", "new_token", "password_matches", "token_hash"]

TOKEN_PREFIX = "cfx_"
_HASHER = PasswordHasher()


def new_token() -> str:
    """A fresh API token: ``cfx_`` and 43 URL-safe characters (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of ``token``: its SHA-256, 64 hex digits."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (with its own salt and parameters), for ``users.password_hash``."""
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` is the one ``stored_hash`` was made from; False for no hash or a bad one."""
    if not stored_hash:
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
