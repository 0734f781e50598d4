"""How the API process runs: its threadpool and pool sized by ``api_threads``, the phone tables built
before the first request, and a large upload's child process at a lower CPU priority."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from contactfix.api import _engine, create_app
from contactfix.api.uploads import _lower_priority
from contactfix.settings import load_settings


def test_api_threads_sizes_the_threadpool_and_the_pool(postgres_server: str, tmp_path: Path) -> None:
    settings = load_settings(environ={}, database_url=postgres_server, api_threads=5)
    app = create_app(settings)
    with TestClient(app) as client:
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 5
    engine = _engine(settings)  # the engine create_app makes when it is given none
    try:
        assert (engine.pool.size(), engine.pool._max_overflow) == (5, 5)  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_api_threads_is_bounded() -> None:
    with pytest.raises(ValueError):
        load_settings(environ={}, api_threads=0)
    assert load_settings(environ={}).api_threads == 8


def test_an_upload_child_runs_at_a_lower_priority() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        _lower_priority(child.pid, 0)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == mine
        _lower_priority(child.pid, 7)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, mine + 7)
    finally:
        child.kill()
        child.wait()
    _lower_priority(child.pid, 7)  # ended: nothing to lower, and no error
