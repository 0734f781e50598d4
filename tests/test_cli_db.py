"""`contactfix db current`: the Docker health check's command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONTACTFIX = str(Path(sys.executable).with_name("contactfix"))


def _run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_")}
    env["CONTACTFIX_DATABASE_URL"] = url
    return subprocess.run([CONTACTFIX, "db", *args], env=env, capture_output=True, text=True, timeout=120)


def test_current_fails_before_upgrade_and_passes_after(sqlite_url: str) -> None:
    before = _run("current", url=sqlite_url)
    assert before.returncode == 2
    assert "contactfix db upgrade" in before.stderr and "Traceback" not in before.stderr
    assert _run("upgrade", url=sqlite_url).returncode == 0
    after = _run("current", url=sqlite_url)
    assert after.returncode == 0, after.stderr
    assert "head" in after.stdout


def test_current_fails_clearly_when_the_database_does_not_answer() -> None:
    result = _run("current", url="postgresql://127.0.0.1:1/nowhere")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
