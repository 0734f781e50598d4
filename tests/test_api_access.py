"""Every API v1 route refuses the caller it must: anonymous 401, another role 403, another
organisation's object 404 (never 403: its existence must not leak). And every route is in the walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import ApiWorld, auth, build_world, client_for, settings_for
from fastapi.testclient import TestClient

# (method, path, the role that may call it, the owner of the object in the path or None)
# Paths use {case_a}, {submission_a}: objects of alice (bank-a) and med1.
ROUTES = [
    ("POST", "/api/v1/submissions", "bank", None),
    ("GET", "/api/v1/submissions/{submission_a}", "bank", "alice"),
    ("GET", "/api/v1/debtors/CF001", "bank", "alice"),
    ("GET", "/api/v1/exports/contacts", "bank", None),
    ("GET", "/api/v1/report", "bank", None),
    ("GET", "/api/v1/cases", "mediator", None),
    ("GET", "/api/v1/cases/{case_a}", "mediator", "med1"),
    ("POST", "/api/v1/cases/{case_a}/call", "mediator", "med1"),
    ("POST", "/api/v1/cases/{case_a}/outcomes", "mediator", "med1"),
    ("GET", "/api/v1/runs", "operator", None),
    ("GET", "/api/v1/dispatches", "operator", None),
    ("POST", "/api/v1/dispatches/retry-dead", "operator", None),
    ("GET", "/api/v1/mediators", "operator", None),
    ("POST", "/api/v1/court-records", "operator", None),
    ("GET", "/api/v1/audit", "operator", None),
]
OF_ROLE = {"bank": "alice", "mediator": "med1", "operator": "op"}
# The same role, another organisation (or, for a mediator, another mediator's case).
STRANGER = {"alice": "bob", "med1": "med2"}


@pytest.fixture(scope="module")
def world(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    from contactfix.db import throwaway_database

    with throwaway_database(postgres_server, "contactfix_api_access") as url:
        built = build_world(url)
        yield built
        built.engine.dispose()


@pytest.fixture(scope="module")
def client(world: ApiWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from client_for(world, settings_for(world, tmp_path_factory.mktemp("outbox")))


def call(client: TestClient, world: ApiWorld, method: str, path: str, token: str | None) -> int:
    url = path.format(case_a=world.case_a, submission_a=world.submission_a)
    headers = auth(token) if token else {}
    if path.endswith(("/submissions", "/court-records")):
        response = client.request(
            method, url, headers=headers, files={"file": ("x.csv", b"reference,name\n")}
        )
    elif path.endswith("/outcomes"):
        response = client.request(
            method, url, headers=headers, json={"contact": "+8613900000002", "result": "no_answer"}
        )
    else:
        response = client.request(method, url, headers=headers)
    assert response.headers["content-type"].startswith("application/json"), (path, response.status_code)
    assert "detail" in response.json() or response.status_code < 400
    return response.status_code


@pytest.mark.parametrize(("method", "path", "role", "owner"), ROUTES)
def test_anonymous_and_bad_tokens_are_401(
    client: TestClient, world: ApiWorld, method: str, path: str, role: str, owner: str | None
) -> None:
    assert call(client, world, method, path, None) == 401
    assert call(client, world, method, path, "cfx_" + "A" * 43) == 401
    assert call(client, world, method, path, "not-a-token") == 401


@pytest.mark.parametrize(("method", "path", "role", "owner"), ROUTES)
def test_other_roles_are_403(
    client: TestClient, world: ApiWorld, method: str, path: str, role: str, owner: str | None
) -> None:
    for other_role, login in OF_ROLE.items():
        if other_role != role:
            assert call(client, world, method, path, world.tokens[login]) == 403, login


@pytest.mark.parametrize(("method", "path", "role", "owner"), [r for r in ROUTES if r[3]])
def test_another_organisations_object_is_404(
    client: TestClient, world: ApiWorld, method: str, path: str, role: str, owner: str
) -> None:
    assert call(client, world, method, path, world.tokens[STRANGER[owner]]) == 404


def test_the_walk_covers_every_route(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    documented = {
        (method.upper(), "/api/v1" + re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    walked = {(m, re.sub(r"\{[^}]+\}|CF001", "{}", p)) for m, p, _, _ in ROUTES}
    assert documented == walked


def test_a_revoked_token_is_401(world: ApiWorld, tmp_path: Path) -> None:
    from sqlalchemy.orm import Session

    from contactfix.access import add_user, revoke_user

    with Session(world.engine) as session:
        token = add_user(session, "carol", "bank-a", "bank").token
        session.commit()
    settings = settings_for(world, tmp_path)
    for client in client_for(world, settings):
        assert client.get("/api/v1/report", headers=auth(token)).status_code == 200
        with Session(world.engine) as session:
            revoke_user(session, "carol")
            session.commit()
        assert client.get("/api/v1/report", headers=auth(token)).status_code == 401


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    for page in ("/api/v1/docs", "/docs"):
        html = client.get(page).text
        assert "swagger-ui-bundle.js" in html and "cdn" not in html.lower() and "https://" not in html
        script = re.search(r'src="([^"]+swagger-ui-bundle\.js)"', html)
        assert script is not None and client.get(script.group(1)).status_code == 200
