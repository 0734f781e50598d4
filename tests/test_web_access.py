"""Every page and form, walked as every caller: nobody signed in, each role, and another bank.

The routes are read from the app itself, so a page added later without a line here fails the test.
Rights come from :mod:`contactfix.access` (the pages ask ``require`` and ``scope``); this checks that
the answers are those the API gives: 303 to the login page (a form: 401/403) when nobody is signed
in, 403 for another role, 404 for another organisation's object.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.routing import Mount
from web_support import PASSWORD, WebWorld, copied_world, web_app, world_template

from contactfix.access import add_organization, add_user
from contactfix.db.models import Organization, Submission

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Which role each page is for (every other role gets 403); "/" and the login pages are everyone's.
_OWNER = {
    "/submissions": "bank",
    "/submissions/{submission_id}": "bank",
    "/submissions/funnel.csv": "bank",
    "/submissions/{submission_id}/issues.csv": "bank",
    "/results.{extension}": "bank",
    "/cases": "mediator",
    "/cases/{case_id}": "mediator",
    "/cases/{case_id}/call": "mediator",
    "/cases/{case_id}/outcome": "mediator",
    "/ops": "operator",
    "/ops/dispatches/retry-dead": "operator",
    "/review": "operator",
}
_EVERYONE = {"/", "/login", "/logout"}
_LOGINS = {"bank": "bank-a-ops", "mediator": "med-a", "operator": "ops"}
_HOMES = {"bank": "/submissions", "mediator": "/cases", "operator": "/ops"}
# A well-formed body for every form (each takes the fields it declares): a malformed one is 422 before
# the role is asked, which says what the form wants and nothing of anyone's data.
_FORM = {"result": "reached", "rank": "1", "note": "", "record_a": "1", "record_b": "2", "same": "true"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_template(tmp_path_factory.mktemp("web-access"))


@pytest.fixture
def world(template: Path, tmp_path: Path) -> Iterator[tuple[WebWorld, int]]:
    built = copied_world(template, tmp_path)
    with Session(built.engine) as session:
        add_organization(session, "bank-b", "bank")
        add_user(session, "bank-b-ops", "bank-b", "bank", password=PASSWORD)
        bank_a = session.query(Organization).filter_by(name="bank-a").one()
        submission = Submission(
            organization_id=bank_a.id, kind="bank_batch", filename="a.csv", content_sha256="0" * 64,
            status="completed", completed_at=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        session.add(submission)
        session.commit()
        submission_id = submission.id
    yield built, submission_id
    built.engine.dispose()


@pytest.fixture
def client(world: tuple[WebWorld, int], tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(web_app(world[0], tmp_path), follow_redirects=False) as client:
        yield client


def _web_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every page and form of the web app mounted at ``/``."""
    mounted = [r.app for r in client.app.routes if isinstance(r, Mount) and r.path == ""]  # type: ignore[attr-defined]
    found: list[tuple[str, str]] = []
    pending = list(mounted[0].routes)  # type: ignore[attr-defined]
    while pending:
        route = pending.pop()
        if isinstance(route, APIRoute):
            found += [(method, route.path) for method in route.methods or () if method != "HEAD"]
        elif hasattr(route, "original_router"):  # FastAPI keeps an included router whole
            pending += route.original_router.routes
    return sorted(found)


def _url(path: str, world: WebWorld, submission_id: int, *, own: bool = True) -> str:
    case = world.case_a if own else world.case_b
    return path.format(submission_id=submission_id, case_id=case, extension="csv")


def _sign_in(client: TestClient, login: str) -> str:
    client.cookies.clear()
    token = _token(client, "/login")
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return token


def _token(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = _CSRF.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def test_every_page_is_listed_with_its_owner(client: TestClient) -> None:
    assert {path for _, path in _web_routes(client)} == set(_OWNER) | _EVERYONE


def test_nobody_signed_in_is_sent_to_the_login_page(client: TestClient, world: tuple[WebWorld, int]) -> None:
    built, submission_id = world
    for method, path in _web_routes(client):
        if path in _EVERYONE:
            continue
        url = _url(path, built, submission_id)
        answer = client.request(method, url, data={"csrf_token": "x"} if method == "POST" else None)
        if method == "GET":
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), url
        else:
            assert answer.status_code in (401, 403), url


@pytest.mark.parametrize("role", sorted(_LOGINS))
def test_another_role_is_refused_every_page(
    client: TestClient, world: tuple[WebWorld, int], role: str
) -> None:
    built, submission_id = world
    _sign_in(client, _LOGINS[role])
    token = _token(client, _HOMES[role])
    for method, path in _web_routes(client):
        if path in _EVERYONE or _OWNER[path] == role:
            continue
        url = _url(path, built, submission_id)
        form = {**_FORM, "csrf_token": token} if method == "POST" else None
        files = {"file": ("batch.csv", b"id,name\nB1,x\n", "text/csv")} if path == "/submissions" else None
        answer = client.request(method, url, data=form, files=files if method == "POST" else None)
        assert answer.status_code == 403, (role, method, url, answer.status_code)


def test_another_organisations_objects_do_not_exist(client: TestClient, world: tuple[WebWorld, int]) -> None:
    built, submission_id = world
    _sign_in(client, "bank-a-ops")
    assert client.get(f"/submissions/{submission_id}").status_code == 200
    _sign_in(client, "bank-b-ops")
    for path in ("/submissions/{submission_id}", "/submissions/{submission_id}/issues.csv"):
        assert client.get(_url(path, built, submission_id)).status_code == 404, path
    results = client.get("/results.csv")
    assert results.status_code == 200 and "CF001" not in results.text and "CF002" not in results.text
    _sign_in(client, "med-a")
    token = _token(client, "/cases")
    for method, path in (("GET", "/cases/{case_id}"), ("POST", "/cases/{case_id}/call"),
                         ("POST", "/cases/{case_id}/outcome")):  # fmt: skip
        url = _url(path, built, submission_id, own=False)
        data = {**_FORM, "csrf_token": token} if method == "POST" else None
        assert client.request(method, url, data=data).status_code == 404, url
