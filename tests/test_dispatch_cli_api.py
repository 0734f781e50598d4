"""``contactfix mediators …`` / ``dispatch …`` / ``worker`` as operators run them, and the HTTP API.

The CLI runs in a subprocess on a SQLite file that ``contactfix db upgrade`` built (once, then copied);
the API on the same kind of file, called over ASGI in process (Starlette's Client needs httpx, which
the dev dependencies do not ship).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from dispatch_support import add_mediators, debtor_phone, make_debtors, plan_for
from fastapi import FastAPI
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from connectors.outbox import read_outbox
from contactfix.api import create_app
from contactfix.db.dispatch_models import Dispatch
from contactfix.db.engine import make_engine
from contactfix.db.identity_models import ContactRanking, ReconcileRun
from contactfix.db.migrate import head_revision
from contactfix.settings import load_settings

CONTACTFIX = str(Path(sys.executable).with_name("contactfix"))
MEDIATOR_PHONE = "13800000001"


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file that ``contactfix db upgrade`` migrated."""
    path = tmp_path_factory.mktemp("cli") / "upgraded.sqlite3"
    result = subprocess.run(
        [CONTACTFIX, "db", "upgrade"], env=cli_env(f"sqlite:///{path}", path.parent), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def database(upgraded: Path, tmp_path: Path) -> str:
    path = tmp_path / "contactfix.sqlite3"
    shutil.copyfile(upgraded, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


def cli_env(url: str, folder: Path) -> dict[str, str]:
    # The test's data key goes along: the rows this process wrote are encrypted under it.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_") or k == "CONTACTFIX_DATA_KEY"
    }
    env |= {"CONTACTFIX_DATABASE_URL": url, "CONTACTFIX_OUTBOX_PATH": str(folder / "outbox.jsonl")}
    return env


def contactfix(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    folder = Path(database.removeprefix("sqlite:///")).parent
    return subprocess.run(
        [CONTACTFIX, *args], env=cli_env(database, folder), cwd=folder, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def set_states(engine: Engine, states: dict[int, str]) -> None:
    with engine.begin() as connection:
        for dispatch_id, state in states.items():
            connection.execute(update(Dispatch).where(Dispatch.id == dispatch_id).values(state=state))


def dispatch_states(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return {i: state for i, state in connection.execute(select(Dispatch.id, Dispatch.state))}


# --- the CLI -----------------------------------------------------------------------------------------


def test_adding_a_mediator_plans_the_debtors_waiting_for_one(database: str, engine: Engine) -> None:
    debtors = make_debtors(engine, 2)
    with Session(engine) as session, session.begin():  # repaired while no mediator could take them
        run = ReconcileRun(status="completed", full=True)
        session.add(run)
        session.flush()
        session.execute(insert(ContactRanking), [
            {"debtor_id": d, "channel": "phone", "value": debtor_phone(i), "rank": 1, "confidence": 0.98,
             "sources": [], "run_id": run.id} for i, d in enumerate(debtors)
        ])  # fmt: skip

    added = contactfix(database, "mediators", "add", "王调解", "--phone", MEDIATOR_PHONE, "--center",
                       "鼓楼调解中心", "--hours", "08:30-17:30")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "mediator 1: 王调解 (鼓楼调解中心), +86 138****0001, hours 08:30-17:30" in added.stdout
    assert "2 waiting repaired debtors assigned to mediators" in added.stdout
    assert "2 dispatches relayed now" in added.stdout
    assert MEDIATOR_PHONE not in added.stdout + added.stderr
    with Session(engine) as session:
        planned = session.execute(select(Dispatch.debtor_id, Dispatch.mediator_id, Dispatch.state)).all()
    assert sorted((d, m) for d, m, _ in planned) == [(debtors[0], 1), (debtors[1], 1)]
    # Sent in this process at once (no broker): delivered within the hours, deferred outside them.
    assert {state for _, _, state in planned} <= {"delivered", "deferred"}

    listed = contactfix(database, "mediators", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if "王调解" in line)
    for cell in ("鼓楼调解中心", "+86 138****0001", "08:30-17:30", "yes", "2"):
        assert cell in line
    assert MEDIATOR_PHONE not in listed.stdout


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [("--phone", "13800000001999", "phone:"), ("--hours", "18:00-08:00", "hours:")],
)
def test_a_bad_mediator_is_refused_naming_the_field(
    database: str, option: str, value: str, field: str
) -> None:
    given = {"--phone": "13900000009", "--hours": "09:00-17:00"} | {option: value}
    args = [part for pair in given.items() for part in pair]
    refused = contactfix(database, "mediators", "add", "李调解", "--center", "鼓楼调解中心", *args)
    assert refused.returncode == 2
    assert f"error: {field}" in refused.stderr and "Traceback" not in refused.stderr
    for phone in ("13800000001999", "13900000009"):
        assert phone not in refused.stdout + refused.stderr
    with make_engine(database).connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM mediators").scalar_one() == 0


def test_dispatch_status_json_is_one_line_of_state_counts(database: str, engine: Engine) -> None:
    debtors = make_debtors(engine, 4)
    add_mediators(engine, 1)
    plan_for(engine, debtors)
    set_states(engine, {2: "deferred", 3: "dead", 4: "dead"})
    shown = contactfix(database, "dispatch", "status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("\n") == 1
    assert json.loads(shown.stdout) == {
        "pending": 1, "deferred": 1, "sending": 0, "sent": 0, "delivered": 0, "failed": 0, "dead": 2,
        "blocked": 0,
    }  # fmt: skip


def test_retry_dead_requeues_the_dead_and_sends_them_in_process(database: str, engine: Engine) -> None:
    debtors = make_debtors(engine, 3)
    add_mediators(engine, 1)
    plan_for(engine, debtors)
    set_states(engine, {1: "dead", 2: "dead", 3: "failed"})
    revived = contactfix(database, "dispatch", "retry-dead")
    assert revived.returncode == 0, revived.stderr
    assert "2 dead dispatches back to pending" in revived.stdout
    # Without a broker the relay runs here and now: delivered within the hours, else deferred to them.
    states = dispatch_states(engine)
    assert states[3] == "failed" and {states[1], states[2]} <= {"delivered", "deferred"}
    sms = [entry for entry in read_outbox(Path(database.removeprefix("sqlite:///")).parent / "outbox.jsonl")
           if entry["kind"] == "sms"]  # fmt: skip
    assert len(sms) == list(states.values()).count("delivered")


def test_relay_at_night_says_how_many_wait_and_when_the_first_goes(database: str, engine: Engine) -> None:
    debtors = make_debtors(engine, 4)
    add_mediators(engine, 1)
    plan_for(engine, debtors)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    first, later = now + dt.timedelta(hours=9, minutes=30), now + dt.timedelta(days=1)
    with engine.begin() as connection:
        for dispatch_id, due in ((1, later), (2, first), (3, later)):
            connection.execute(
                update(Dispatch)
                .where(Dispatch.id == dispatch_id)
                .values(state="deferred", next_attempt_at=due)
            )
    set_states(engine, {4: "delivered"})

    relayed = contactfix(database, "dispatch", "relay")
    assert relayed.returncode == 0, relayed.stderr
    shanghai = first.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert "0 dispatches enqueued" in relayed.stdout
    assert f"3 dispatches deferred to their allowed hours; the first is due {shanghai:%Y-%m-%d %H:%M} " \
        "Asia/Shanghai" in relayed.stdout  # fmt: skip
    assert "run `contactfix dispatch relay` then" in relayed.stdout  # no broker, no beat
    assert dispatch_states(engine) == {1: "deferred", 2: "deferred", 3: "deferred", 4: "delivered"}

    set_states(engine, {1: "delivered", 2: "delivered", 3: "delivered"})
    quiet = contactfix(database, "dispatch", "relay")
    assert quiet.stdout.strip() == "0 dispatches enqueued"


def test_worker_without_a_broker_says_which_setting_to_set(database: str) -> None:
    refused = contactfix(database, "worker")
    assert refused.returncode == 2
    assert "CONTACTFIX_BROKER_URL" in refused.stderr and "Traceback" not in refused.stderr


# --- the API -----------------------------------------------------------------------------------------


class Client:
    """Requests straight to the ASGI app: the whole FastAPI stack, no sockets."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
        return asyncio.run(self._request(method, path, body))

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: object) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        return self.request("POST", path, raw)

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        incoming = [{"type": "http.request", "body": body, "more_body": False}]
        answer: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            answer.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }  # fmt: skip
        await self.app(scope, receive, send)
        status = next(m["status"] for m in answer if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
        return status, json.loads(content) if content else None


@pytest.fixture
def client(database: str, engine: Engine) -> Client:
    return Client(create_app(load_settings(environ={}, database_url=database), engine))


def test_health_answers_at_the_newest_schema_only(client: Client, tmp_path: Path) -> None:
    assert client.get("/health") == (200, {"status": "ok", "schema": head_revision()})
    assert client.get("/dispatches/status") == (200, {
        "pending": 0, "deferred": 0, "sending": 0, "sent": 0, "delivered": 0, "failed": 0, "dead": 0,
        "blocked": 0,
    })  # fmt: skip
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    bare = make_engine(empty)
    status, answer = Client(create_app(load_settings(environ={}, database_url=empty), bare)).get("/health")
    bare.dispose()
    assert status == 503 and "expected" in answer["detail"]
