"""Bad input to API v1 is a clear 4xx, never a 500: malformed JSON, wrong types, numbers that would
overflow the database, deep nesting, control characters, bodies too large. And schemathesis walks
the OpenAPI with generated requests (bounded) and finds no 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import ApiWorld, auth, build_world, client_for, settings_for
from fastapi.testclient import TestClient

from contactfix.db import throwaway_database


@pytest.fixture(scope="module")
def world(postgres_server: str) -> Iterator[ApiWorld]:
    with throwaway_database(postgres_server, "contactfix_api_input") as url:
        built = build_world(url)
        yield built
        built.engine.dispose()


@pytest.fixture(scope="module")
def client(world: ApiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(world, tmp_path_factory.mktemp("input"), intake_max_file_bytes=10_000)
    yield from client_for(world, settings)


def test_malformed_and_mistyped_json(client: TestClient, world: ApiWorld) -> None:
    url, token = f"/api/v1/cases/{world.case_a}/outcomes", auth(world.tokens["med1"])
    headers = {**token, "Content-Type": "application/json"}
    for raw, expected in (
        (b"{", 400),
        (b"\xff\xfe", 400),
        (b"[" * 5000 + b"]" * 5000, 400),  # deep nesting: the JSON parser's recursion
        (b'{"contact": ' + b'{"a": ' * 50 + b"1" + b"}" * 50 + b', "result": "reached"}', 422),
        (b'{"contact": "+8613900000002", "result": 1e999}', 422),
        (b'{"contact": 99999999999999999999999999999, "result": "reached"}', 422),
        (b"null", 422),
    ):
        answer = client.post(url, headers=headers, content=raw)
        assert answer.status_code in (400, 422) and answer.status_code == expected, (raw[:40], answer.text)
        assert isinstance(answer.json()["detail"], str)


def test_numbers_that_would_overflow_are_refused(client: TestClient, world: ApiWorld) -> None:
    bank, mediator, operator = (auth(world.tokens[login]) for login in ("alice", "med1", "op"))
    for path, headers in (
        (f"/api/v1/submissions/{2**63}", bank),
        (f"/api/v1/submissions/{2**31}", bank),
        ("/api/v1/submissions/-1", bank),
        (f"/api/v1/cases/{10**30}", mediator),
        (f"/api/v1/cases?limit={10**30}", mediator),
        (f"/api/v1/cases?offset={2**40}", mediator),
        (f"/api/v1/audit?before_id={2**40}", operator),
        ("/api/v1/audit?limit=NaN", operator),
    ):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 422, (path, answer.text)


def test_control_characters_and_long_references(client: TestClient, world: ApiWorld) -> None:
    bank = auth(world.tokens["alice"])
    assert client.get("/api/v1/debtors/CF%00001", headers=bank).status_code == 422
    assert client.get("/api/v1/debtors/" + "A" * 101, headers=bank).status_code == 422
    assert client.get("/api/v1/audit?actor=a%00b", headers=auth(world.tokens["op"])).status_code == 422


def test_bodies_too_large_are_413(client: TestClient, world: ApiWorld) -> None:
    outcome = client.post(
        f"/api/v1/cases/{world.case_a}/outcomes", headers=auth(world.tokens["med1"]),
        content=b'{"note": "' + b"x" * 100_000 + b'"}',
    )  # fmt: skip
    assert outcome.status_code == 413
    big = b"reference,name\n" + b"R1,x\n" * 400_000  # 2 MB: past the 10 kB + 1 MiB allowed here
    upload = client.post(
        "/api/v1/submissions", headers=auth(world.tokens["alice"]), files={"file": ("b.csv", big)}
    )
    assert upload.status_code == 413 and "larger" in upload.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"contact": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    streamed = client.post(
        f"/api/v1/cases/{world.case_a}/outcomes",
        headers={**auth(world.tokens["med1"]), "Content-Type": "application/json"}, content=chunks(),
    )  # fmt: skip
    assert streamed.status_code == 413


def test_an_upload_that_is_not_multipart(client: TestClient, world: ApiWorld) -> None:
    answer = client.post(
        "/api/v1/submissions",
        headers={**auth(world.tokens["alice"]), "Content-Type": "text/csv"},
        content=b"a,b",
    )
    assert answer.status_code == 422


def test_schemathesis_finds_no_server_error(world: ApiWorld, tmp_path: Path) -> None:
    run_schemathesis(world, tmp_path, max_examples=6)  # bounded: CI's run stays short


@pytest.mark.slow
def test_schemathesis_at_length(world: ApiWorld, tmp_path: Path) -> None:
    run_schemathesis(world, tmp_path, max_examples=60)


def run_schemathesis(world: ApiWorld, tmp_path: Path, *, max_examples: int) -> None:
    """Every operation, as each role, with generated requests; no answer may be a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from contactfix.api import create_app

    app = create_app(settings_for(world, tmp_path), world.engine)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    calls: list[str] = []

    def check_as(login: str, operation: Any) -> None:
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=auth(world.tokens[login]))
            calls.append(f"{case.path} {response.status_code}")
            if response.status_code >= 500:
                failures.append(f"{login} {operation.label}: {response.status_code} {response.text[:200]}")

        check()

    for login in ("alice", "med1", "op"):
        for result in schema.get_all_operations():
            operation = result.ok()

            check_as(login, operation)
    assert not failures, "\n".join(failures)
    answered = {call.rsplit(" ", 1)[0] for call in calls if call.endswith(" 200")}
    assert len(answered) >= 10, sorted(set(calls))  # the requests reached the routes, not a 404 wall
