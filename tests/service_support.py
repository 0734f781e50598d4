"""Real service processes for the dispatch tests and benchmark: a Redis of their own, Celery workers
and beat started as ``contactfix worker`` / ``contactfix beat`` in their own process groups.

The processes read their settings from the environment this module builds: a policy profile that
allows contact at every hour (so nothing depends on when the test runs; the hours themselves are
tested with injected clocks elsewhere), short leases and sweeps so a recovery takes seconds, and
rate limits far above the load.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

CONTACTFIX = str(Path(sys.executable).parent / "contactfix")

ALWAYS_POLICY = """
[profiles.always]
timezone = "Asia/Shanghai"
contact_window = "00:00-24:00"
daily_call_cap = 0
rolling_call_cap = 0
rolling_call_days = 7
call_pause_days_after_conversation = 0
mediator_hours = "00:00-24:00"
mediator_workdays = [1, 2, 3, 4, 5, 6, 7]
"""

FAST_CONNECTORS = """
[dispatch]
sms = "outbox"
call = "outbox"
recipient_rate_per_minute = 6000000.0
recipient_burst = 100000.0

[connectors.outbox]
rate_per_s = 100000.0
burst = 100000.0
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], seconds: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` until it is true; AssertionError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


class RedisServer:
    """A redis-server of the test's own on a free port, keeping nothing on disk (as on the machine)."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.workdir)]  # fmt: skip
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, 15, f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop at once, losing everything it held (no save)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


def service_env(folder: Path, database_url: str, broker_url: str, **settings: object) -> dict[str, str]:
    """The environment of a worker or beat: settings for fast recovery, files in ``folder``."""
    (folder / "policy.toml").write_text(ALWAYS_POLICY, encoding="utf-8")
    (folder / "connectors.toml").write_text(FAST_CONNECTORS, encoding="utf-8")
    values: dict[str, object] = {
        "database_url": database_url,
        "broker_url": broker_url,
        "outbox_path": folder / "outbox.jsonl",
        "policy_file": folder / "policy.toml",
        "policy_profile": "always",
        "connectors_file": folder / "connectors.toml",
        "log_level": "WARNING",
        "dispatch_visibility_timeout_s": 10,
        "dispatch_restore_interval_s": 1,
        "dispatch_relay_interval_s": 0.5,
        "dispatch_requeue_after_s": 3,
        "dispatch_lease_s": 3,
        "dispatch_backoff_base_s": 0.2,
        "dispatch_backoff_cap_s": 2.0,
        **settings,
    }
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_") or k == "CONTACTFIX_DATA_KEY"
    }
    env.update({f"CONTACTFIX_{key.upper()}": str(value) for key, value in values.items()})
    return env


class ServiceProcess:
    """``contactfix worker`` or ``beat`` in its own process group, its output in a log file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            command = [CONTACTFIX, *args]
            self.process = subprocess.Popen(
                command, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill9(self) -> None:
        """SIGKILL the whole group (the worker and its pool children) with no chance to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Ask politely, then kill what is left."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def tail(self, lines: int = 30) -> str:
        """The end of the process's log, for a failing test's message."""
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def start_worker(env: Mapping[str, str], folder: Path, name: str, concurrency: int = 2) -> ServiceProcess:
    """A Celery worker called ``name``."""
    level = env.get("CONTACTFIX_LOG_LEVEL", "WARNING")
    args = ["worker", "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--loglevel", level]
    return ServiceProcess(args, env, folder / f"{name}.log")


def start_beat(env: Mapping[str, str], folder: Path) -> ServiceProcess:
    """The beat, which sends the relay every ``dispatch_relay_interval_s``."""
    args = ["beat", "--loglevel", "WARNING", "--schedule", str(folder / "celerybeat-schedule")]
    return ServiceProcess(args, env, folder / "beat.log")
