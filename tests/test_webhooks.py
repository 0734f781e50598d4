"""Providers' webhooks as an attacker sees them: who may push, what a push may name, how much it may
weigh, and that the API keeps answering while a large one is taken in."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from dispatch_support import (
    MEDIATOR_PHONES,
    add_mediators,
    debtor_phone,
    make_debtors,
    make_sender,
    outbox_channels,
    plan_for,
)
from fastapi import FastAPI
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from contactfix.api import create_app
from contactfix.api.webhooks import SECRET_HEADER
from contactfix.db.dispatch_models import CallAttempt, Dispatch
from contactfix.settings import Settings, load_settings

# The ``engine`` fixture: an upgraded, empty database, once on SQLite and once on PostgreSQL.
pytest_plugins = ["dispatch_db"]

SECRET = "s3cret-of-the-aliyun-push"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
SMS = "/webhooks/aliyun/sms-report"
CALLS = "/webhooks/aliyun/call-record"
OK = (200, {"code": 0, "msg": "成功"})
SUBS = "1000000768790001"
SECRET_NO = "17100001111"


class Client:
    """Requests straight to the ASGI app (the whole FastAPI stack, no sockets); the body may come in
    several chunks, and the client counts how many the app asked for."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.chunks_read = 0

    def post(
        self, path: str, body: object, headers: dict[str, str] | None = None, *, chunk: int | None = None
    ) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("ascii")
        return asyncio.run(
            self._request("POST", path, raw, {SECRET_HEADER: SECRET} if headers is None else headers, chunk)
        )

    def get(self, path: str) -> tuple[int, Any]:
        return asyncio.run(self._request("GET", path, b"", {}, None))

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], chunk: int | None
    ) -> tuple[int, Any]:
        size = chunk or max(len(body), 1)
        parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        incoming = [
            {"type": "http.request", "body": p, "more_body": n < len(parts) - 1} for n, p in enumerate(parts)
        ]
        answer: list[MutableMapping[str, Any]] = []
        self.chunks_read = 0

        async def receive() -> dict[str, Any]:
            if incoming:
                self.chunks_read += 1
                return incoming.pop(0)
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            answer.append(message)

        raw_headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if chunk is None:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": raw_headers, "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }  # fmt: skip
        await self.app(scope, receive, send)
        status = next(m["status"] for m in answer if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
        return status, json.loads(content) if content else None


def settings_for(engine: Engine, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "webhook_secret_aliyun": SECRET,
    }
    return load_settings(environ={}, **(values | overrides))


@pytest.fixture
def client(engine: Engine) -> Client:
    return Client(create_app(settings_for(engine), engine))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def beijing(when: dt.datetime) -> str:
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def two_sent_dispatches(engine: Engine, sent_at: dt.datetime | None = None) -> list[str]:
    """Dispatches 1 and 2 (debtors 0 and 1, mediator 0), taken as BizIds 100^1 and 100^2; dispatch 1
    bound as AXB SUBS:SECRET_NO an hour ago. Their idempotency keys."""
    debtors = make_debtors(engine, 2)
    add_mediators(engine, 1)
    plan_for(engine, debtors)
    sent_at = sent_at or now() - dt.timedelta(hours=1)
    with engine.begin() as connection:
        for n in (1, 2):
            values: dict[str, Any] = {"state": "sent", "provider_message_id": f"100^{n}", "sent_at": sent_at}
            if n == 1:
                values["binding_id"] = f"{SUBS}:{SECRET_NO}"
            connection.execute(update(Dispatch).where(Dispatch.id == n).values(**values))
        return list(connection.execute(select(Dispatch.idempotency_key).order_by(Dispatch.id)).scalars())


def states(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return {n: state for n, state in connection.execute(select(Dispatch.id, Dispatch.state))}


def sms_report(
    biz_id: str, *, success: bool = True, out_id: str = "", at: str = "2026-11-24 12:00:05"
) -> dict[str, Any]:
    return {
        "phone_number": MEDIATOR_PHONES[0][3:], "send_time": "2026-11-24 12:00:00", "report_time": at,
        "success": success, "err_code": "DELIVERED" if success else "UNDELIV",
        "err_msg": "用户接收成功" if success else "用户接收失败", "sms_size": "1", "biz_id": biz_id,
        "out_id": out_id,
    }  # fmt: skip


def call_record(call_id: str, when: dt.datetime, *, subs: str = SUBS, debtor: int = 0, call_type: int = 0,
                mediator: str = MEDIATOR_PHONES[0]) -> dict[str, Any]:  # fmt: skip
    """A SecretReport entry: the mediator (A) called the debtor (B) through X at ``when``, answered."""
    return {
        "sub_id": int(subs), "call_id": call_id, "phone_no": mediator[3:],
        "peer_no": debtor_phone(debtor)[3:], "secret_no": SECRET_NO, "call_type": call_type,
        "call_time": beijing(when), "start_time": beijing(when + dt.timedelta(seconds=9)),
        "release_time": beijing(when + dt.timedelta(seconds=60)),
        "release_cause": 16, "out_id": "bind-key",
    }  # fmt: skip


def calls(engine: Engine) -> list[tuple[str, str, int | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(CallAttempt.provider_call_id, CallAttempt.value, CallAttempt.dispatch_id).order_by(
                CallAttempt.provider_call_id
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


# --- who may push -------------------------------------------------------------------------------------


def test_a_forged_push_without_the_secret_is_refused_and_changes_nothing(
    client: Client, engine: Engine
) -> None:
    two_sent_dispatches(engine)
    report = [sms_report("100^1")]
    record = [call_record("c-1", now() - dt.timedelta(minutes=5))]
    basic = "Basic " + base64.b64encode(b"aliyun:not-the-secret").decode()
    for headers in ({}, {SECRET_HEADER: "guess"}, {SECRET_HEADER: SECRET[:-1]}, {SECRET_HEADER: ""},
                    {"Authorization": basic}, {"Authorization": "Bearer " + SECRET}):  # fmt: skip
        assert client.post(SMS, report, headers)[0] == 401, headers
        assert client.post(CALLS, record, headers)[0] == 401, headers
    assert states(engine) == {1: "sent", 2: "sent"} and calls(engine) == []
    # The real provider, with the secret in the header or as the Basic password of its push URL.
    assert client.post(SMS, report) == OK
    good = "Basic " + base64.b64encode(f"aliyun:{SECRET}".encode()).decode()
    assert client.post(CALLS, record, {"Authorization": good}) == OK
    assert states(engine) == {1: "delivered", 2: "sent"} and calls(engine) == [("c-1", debtor_phone(0), 1)]


def test_an_unconfigured_secret_keeps_the_webhooks_closed(engine: Engine) -> None:
    two_sent_dispatches(engine)
    closed = Client(create_app(settings_for(engine, webhook_secret_aliyun=""), engine))
    for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: SECRET}):
        assert closed.post(SMS, [sms_report("100^1")], headers)[0] == 503
        assert closed.post(CALLS, [call_record("c-1", now())], headers)[0] == 503
    assert states(engine) == {1: "sent", 2: "sent"}


# --- what a push may name -------------------------------------------------------------------------------


def test_a_receipt_applies_only_to_the_message_id_it_names(client: Client, engine: Engine) -> None:
    keys = two_sent_dispatches(engine)
    # Someone else's message id, our key for dispatch 2 as OutId: the key selects nothing.
    forged = [sms_report("100^9", success=False, out_id=keys[1]), sms_report("", out_id=keys[0]),
              sms_report("100^", out_id=keys[1]), sms_report("%", out_id=keys[1])]  # fmt: skip
    assert client.post(SMS, forged) == OK
    assert states(engine) == {1: "sent", 2: "sent"}
    # A report for dispatch 1's message that carries dispatch 2's key moves dispatch 1 only.
    assert client.post(SMS, [sms_report("100^1", out_id=keys[1])]) == OK
    assert states(engine) == {1: "delivered", 2: "sent"}
    # Pushed again, and a late failure for the same message: nothing changes.
    again = [sms_report("100^1"), sms_report("100^1", success=False, at="2026-11-24 12:09:00")]
    assert client.post(SMS, again) == OK
    with Session(engine) as session:
        row = session.get(Dispatch, 1)
        assert row is not None and (row.state, row.finished_at) == (
            "delivered", dt.datetime(2026, 11, 24, 4, 0, 5, tzinfo=dt.UTC),
        )  # fmt: skip
    assert client.get("/dispatches/status")[1]["delivered"] == 1


def test_call_records_count_only_for_bindings_we_made_within_their_life(
    client: Client, engine: Engine, tmp_path: Path
) -> None:
    two_sent_dispatches(engine)
    bound = now() - dt.timedelta(hours=1)
    tomorrow_morning = (now().astimezone(SHANGHAI) + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0)
    forged = [
        *[
            call_record(f"unknown-{n}", now() - dt.timedelta(minutes=n), subs="1000000999999999", debtor=1)
            for n in range(6)
        ],
        *[
            call_record(f"tomorrow-{n}", tomorrow_morning + dt.timedelta(minutes=n), debtor=0)
            for n in range(6)
        ],
        call_record("before-binding", bound - dt.timedelta(hours=2)),
        call_record("after-expiry", bound + dt.timedelta(hours=80)),
        call_record(
            "other-debtor", now() - dt.timedelta(minutes=3), debtor=1
        ),  # dispatch 1's binding, not its debtor
        call_record("other-mediator", now() - dt.timedelta(minutes=3), mediator="+8613700000000"),
        call_record(
            "debtor-called", now() - dt.timedelta(minutes=2), call_type=1
        ),  # inbound: no attempt on them
    ]
    assert client.post(CALLS, forged) == OK
    assert calls(engine) == []
    lawful = [
        call_record("c-1", bound + dt.timedelta(minutes=5)),
        call_record("c-2", now() - dt.timedelta(seconds=30)),
    ]
    assert client.post(CALLS, lawful) == OK
    assert client.post(CALLS, lawful) == OK  # pushed twice: stored once
    assert calls(engine) == [("c-1", debtor_phone(0), 1), ("c-2", debtor_phone(0), 1)]


def test_forged_call_records_do_not_defer_the_next_dispatch_under_the_daily_cap(
    client: Client, engine: Engine, tmp_path: Path
) -> None:
    two_sent_dispatches(engine)
    with engine.begin() as connection:  # dispatch 2 (debtor 1) is due now
        connection.execute(
            update(Dispatch).where(Dispatch.id == 2).values(state="pending", provider_message_id=None)
        )
    tomorrow_noon = (now().astimezone(SHANGHAI) + dt.timedelta(days=1)).replace(hour=12, minute=0, second=0)
    # Six calls to debtor 1, dated tomorrow morning: through our binding (which is debtor 0's) and
    # through a made-up one.
    forged = [
        call_record(f"f-{n}", tomorrow_noon - dt.timedelta(hours=3, minutes=n), debtor=1) for n in range(3)
    ]
    forged += [call_record(f"g-{n}", tomorrow_noon - dt.timedelta(hours=2, minutes=n), debtor=1,
                           subs="1000000999999999") for n in range(3)]  # fmt: skip
    assert client.post(CALLS, forged) == OK
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CallAttempt)).scalar_one() == 0
    sender = make_sender(
        engine, outbox_channels(tmp_path / "outbox.jsonl"), now=tomorrow_noon.astimezone(dt.UTC)
    )
    assert sender.send(2).result == "delivered"
    with Session(engine) as session:
        dispatch = session.get(Dispatch, 2)
        assert dispatch is not None and dispatch.rule != "daily_call_cap"


# --- how much a push may weigh, and what it may hold --------------------------------------------------


def test_malformed_pushes_are_400_with_a_message_never_500(client: Client, engine: Engine) -> None:
    two_sent_dispatches(engine)
    bodies = [
        b"<xml>not json</xml>",
        b'{"biz_id": "100^1"}',
        b"\xff\xfe",
        b"[" * 2000 + b"]" * 2000,
        b'[{"biz_id": "100^1", "success": true, "report_time": "2026-11-24 12:00:05", "sms_size": NaN}]',
        b'[{"biz_id": "100^1", "success": true, "report_time": "2026-11-24 12:00:05", "sms_size": 1e999}]',
        b'[{"biz_id": "100^1", "sms_size": ' + b"9" * 5000 + b"}]",
        b'[{"a": ' * 2000 + b"1" + b"}]" * 2000,
    ]
    for path in (SMS, CALLS):
        for body in bodies:
            status, answer = client.post(path, body)
            assert status == 400 and answer["detail"], (path, body[:40])
    assert states(engine) == {1: "sent", 2: "sent"}


def test_unreadable_entries_are_set_aside_and_the_rest_taken(client: Client, engine: Engine) -> None:
    two_sent_dispatches(engine)
    odd = [
        {**sms_report("100^2"), "biz_id": {"nested": ["100^2"]}}, {**sms_report("100^2"), "success": "maybe"},
        {**sms_report("100^2"), "biz_id": "x" * 5000}, {**sms_report("100^2"), "report_time": 20261124},
        {**sms_report("100^2"), "success": 1}, [1, 2], "text", None, 1e308,
        {**sms_report("100^2"), "biz_id": "100^2\ud800"}, {**sms_report("100^2"), "biz_id": "100^2\x00"},
    ]  # fmt: skip
    assert client.post(SMS, [*odd, sms_report("100^1")]) == OK
    assert states(engine) == {1: "delivered", 2: "sent"}
    records = [
        {**call_record("c-x", now()), "call_type": 10**40},
        {**call_record("c-y", now()), "release_cause": [16]},
        {**call_record("c-z", now()), "call_id": "c" * 500},
        {**call_record("c-w", now()), "sub_id": None},
        {**call_record("c-v", now()), "call_id": "c-v\ud800"},
        {**call_record("c-u", now()), "call_id": "c-u\x00"},
    ]  # fmt: skip
    assert client.post(CALLS, [*records, call_record("c-1", now() - dt.timedelta(minutes=1))]) == OK
    assert calls(engine) == [("c-1", debtor_phone(0), 1)]


def test_too_many_entries_in_one_push_is_422(engine: Engine) -> None:
    two_sent_dispatches(engine)
    small = Client(create_app(settings_for(engine, webhook_max_entries=10), engine))
    assert small.post(SMS, [sms_report("100^1")] * 11)[0] == 422
    assert small.post(CALLS, [call_record("c-1", now())] * 11)[0] == 422
    assert states(engine) == {1: "sent", 2: "sent"} and calls(engine) == []
    assert small.post(SMS, [sms_report("100^1")] * 10) == OK


def test_an_oversized_body_is_refused_while_it_streams_in(client: Client, engine: Engine) -> None:
    two_sent_dispatches(engine)
    big = json.dumps([sms_report("100^1")] * 40_000).encode()  # about 11 MB
    assert len(big) > 5_000_000
    # Announced: refused before a byte is read.
    assert client.post(SMS, big)[0] == 413
    assert client.chunks_read == 0
    # Streamed without a length (chunked): refused as soon as the limit is passed, not at the end.
    assert client.post(SMS, big, chunk=64 * 1024)[0] == 413
    assert client.chunks_read <= 1_000_000 // (64 * 1024) + 2
    assert client.post(SMS, b"[]", {SECRET_HEADER: SECRET, "Content-Length": "lots"})[0] == 400
    assert states(engine) == {1: "sent", 2: "sent"}


# --- the API keeps answering ---------------------------------------------------------------------------


class Served:
    """The app under uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, float]:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            response.read()
            return response.status, time.perf_counter() - started
        except (BrokenPipeError, ConnectionResetError):
            return 413, time.perf_counter() - started  # refused while we were still sending
        finally:
            connection.close()


@pytest.fixture
def served(engine: Engine) -> Iterator[Served]:
    with Served(create_app(settings_for(engine, webhook_max_entries=100_000), engine)) as served:
        yield served


def test_a_five_megabyte_push_is_refused_quickly(served: Served, engine: Engine) -> None:
    two_sent_dispatches(engine)
    status, seconds = served.request("POST", SMS, b"[" + b" " * 5_000_000 + b"]", {SECRET_HEADER: SECRET})
    assert status == 413 and seconds < 2


def test_health_answers_while_a_one_megabyte_push_is_taken_in(served: Served, engine: Engine) -> None:
    two_sent_dispatches(engine)
    reports = [sms_report(f"200^{n}", at="2026-11-24 12:00:05") for n in range(4000)] + [sms_report("100^1")]
    body = json.dumps(reports, ensure_ascii=False).encode()
    assert 900_000 < len(body) <= 1_000_000
    result: dict[str, tuple[int, float]] = {}
    pushing = threading.Thread(
        target=lambda: result.setdefault("push", served.request("POST", SMS, body, {SECRET_HEADER: SECRET}))
    )
    pushing.start()
    health: list[tuple[int, float]] = []
    while pushing.is_alive() or not health:
        health.append(served.request("GET", "/health"))
    pushing.join()
    assert result["push"][0] == 200
    assert all(status == 200 for status, _ in health), health
    # Answered during the push, not once after it: a blocked loop answers the first request only when
    # the push is done, and then the loop above stops. No wall-clock bound per answer (a loaded CI
    # machine took 2.1 s for one while the push ran): the count of answers is what tells blocking.
    assert len(health) >= 2, (result["push"], health)
    assert states(engine)[1] == "delivered"
