"""Failed sign-ins, limited per login and per client address across every server process.

``limit`` failures within ``window`` seconds for a login, or from an address, and every further
attempt on it is refused (:class:`TooManyAttempts`, a 429 with Retry-After) until the oldest of them
ages out; a success clears the login's count (not the address's: one right password must not reset
an address that is trying many logins). The failures live in the database (``login_failures``), so
``api_workers`` processes share one count: an attacker gets ``limit`` tries, not ``limit`` per worker.
Keys are keyed hashes (HMAC under the deployment's rate-limit key): a stolen table names no login or
address. Rows older than the window are deleted as new failures arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from contactfix.db.access_models import LoginFailure
from contactfix.privacy import PURPOSE_RATELIMIT, keyed_hash

__all__ = ["LoginLimiter", "TooManyAttempts"]


class TooManyAttempts(Exception):
    """Too many failed sign-ins for this login or address (429): ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoginLimiter:
    """Counts failed sign-ins in the database of ``engine`` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        limit: int = 5,
        window: float = 15 * 60,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.engine, self.limit, self.window, self.clock = engine, limit, dt.timedelta(seconds=window), clock

    def _keys(self, login: str, address: str | None = None) -> list[str]:
        hashed = keyed_hash(PURPOSE_RATELIMIT)
        texts = [f"login:{login.strip().lower()}"] + ([f"ip:{address}"] if address is not None else [])
        return [hashed.hexdigest(text, 32) for text in texts]

    def check(self, login: str, address: str) -> None:
        """:class:`TooManyAttempts` when the login or the address has had ``limit`` failures within
        the window."""
        now = self.clock()
        query = (
            select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
            .where(LoginFailure.key.in_(self._keys(login, address)), LoginFailure.at > now - self.window)
            .group_by(LoginFailure.key)
        )
        with self.engine.connect() as connection:
            counts = connection.execute(query).all()
        blocked = [oldest for _, count, oldest in counts if count >= self.limit]
        if blocked:
            oldest = min(blocked)
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
            raise TooManyAttempts(int((self.window - (now - oldest)).total_seconds()) + 1)

    def failed(self, login: str, address: str) -> None:
        """Count one failure against the login and the address; forget failures past the window."""
        now = self.clock()
        rows = [{"key": key, "at": now} for key in self._keys(login, address)]
        with Session(self.engine) as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))
            session.execute(insert(LoginFailure), rows)

    def succeeded(self, login: str) -> None:
        """The login's password was right: its failures no longer count (its address's still do)."""
        with Session(self.engine) as session, session.begin():
            session.execute(delete(LoginFailure).where(LoginFailure.key.in_(self._keys(login))))
