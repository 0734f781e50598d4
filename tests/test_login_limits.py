"""Failed sign-ins are counted in the database: every server process shares one limit."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from contactfix.access.login_limits import LoginLimiter, TooManyAttempts
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database

START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    upgrade_database(db_url)
    return make_engine(db_url)


def test_two_processes_share_one_count_and_it_ages_out(engine: sa.Engine) -> None:
    clock = Clock()
    worker_a, worker_b = (LoginLimiter(engine, limit=3, window=600, clock=clock) for _ in range(2))
    for worker in (worker_a, worker_b, worker_a):  # three failures, spread over two workers
        worker.check("med-a", "10.0.0.1")
        worker.failed("med-a", "10.0.0.1")
        clock.now += dt.timedelta(seconds=60)
    for worker in (worker_a, worker_b):
        with pytest.raises(TooManyAttempts) as refused:
            worker.check("med-a", "10.0.0.9")  # the login is blocked from any address
        assert refused.value.retry_after == 600 - 180 + 1
    with pytest.raises(TooManyAttempts):
        worker_b.check("ops", "10.0.0.1")  # and the address for any login
    worker_b.check("ops", "10.0.0.9")
    clock.now = START + dt.timedelta(seconds=601)  # the first failure is past the window
    worker_a.check("med-a", "10.0.0.1")
    worker_a.failed("ops", "10.0.0.2")  # and was deleted with it
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM login_failures")).scalar_one() == 6
    engine.dispose()


def test_a_right_password_clears_the_login_not_the_address(engine: sa.Engine) -> None:
    limiter = LoginLimiter(engine, limit=2, window=600, clock=Clock())
    for login in ("med-a", "med-a"):
        limiter.failed(login, "10.0.0.1")
    limiter.succeeded("MED-A ")  # logins are counted trimmed and lower-cased
    limiter.check("med-a", "10.0.0.2")
    with pytest.raises(TooManyAttempts):
        limiter.check("med-a", "10.0.0.1")
    engine.dispose()


def test_the_table_names_no_login_and_no_address(engine: sa.Engine) -> None:
    LoginLimiter(engine, clock=Clock()).failed("bank-analyst", "203.0.113.7")
    with engine.connect() as connection:
        keys = connection.execute(sa.text("SELECT key FROM login_failures")).scalars().all()
    assert len(keys) == 2 and all(len(k) == 32 and "analyst" not in k and "203" not in k for k in keys)
    engine.dispose()
