"""A mediator over API v1: only their cases, masked; a call path within the policy's hours (the
number revealed to them alone, audited, when no privacy-number provider is configured); outcomes."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import CASE, DAYTIME, NEW, NIGHT, ApiWorld, auth, build_world, client_for, settings_for
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.db import throwaway_database
from contactfix.db.outcome_models import Outcome


@pytest.fixture
def world(postgres_server: str) -> Iterator[ApiWorld]:
    with throwaway_database(postgres_server, "contactfix_api_mediator") as url:
        built = build_world(url)
        yield built
        built.engine.dispose()


@pytest.fixture
def client(world: ApiWorld, tmp_path: Path) -> Iterator[TestClient]:
    yield from client_for(world, settings_for(world, tmp_path))


def test_my_cases_only_masked_with_the_next_allowed_time(client: TestClient, world: ApiWorld) -> None:
    cases = client.get("/api/v1/cases", headers=auth(world.tokens["med1"]))
    assert cases.status_code == 200, cases.text
    (case,) = cases.json()
    assert (case["case_id"], case["case_number"], case["bank"], case["reference"]) == (
        world.case_a,
        CASE,
        "bank-a",
        "CF001",
    )
    assert (case["best_contact"], case["debtor"]) == ("+86 139****0002", "张*")
    assert dt.datetime.fromisoformat(case["next_allowed_at"]) == DAYTIME and case["confidence"] > 0
    assert not re.search(r"\d{11}", cases.text)
    other = client.get("/api/v1/cases", headers=auth(world.tokens["med2"])).json()
    assert [c["case_id"] for c in other] == [world.case_b]
    detail = client.get(f"/api/v1/cases/{world.case_a}", headers=auth(world.tokens["med1"])).json()
    assert detail["id_number"] == "350103********1234" and detail["outcomes"] == []
    assert [c["value"] for c in detail["contacts"] if c["channel"] == "phone"] == [
        "+86 139****0002",
        "+86 138****0001",
    ]


def test_at_night_the_policy_answers_409_with_the_next_allowed_time(world: ApiWorld, tmp_path: Path) -> None:
    for client in client_for(world, settings_for(world, tmp_path), now=NIGHT):
        answer = client.post(f"/api/v1/cases/{world.case_a}/call", headers=auth(world.tokens["med1"]))
        assert answer.status_code == 409
        body = answer.json()
        allowed = dt.datetime.fromisoformat(body["next_allowed_at"])
        assert allowed.astimezone(dt.timezone(dt.timedelta(hours=8))).hour == 8 and allowed > NIGHT
        assert "quiet" in body["detail"] or "22:00" in body["detail"] or "hours" in body["detail"]
        listed = client.get("/api/v1/cases", headers=auth(world.tokens["med1"])).json()
        assert dt.datetime.fromisoformat(listed[0]["next_allowed_at"]) == allowed


def test_without_a_privacy_number_the_mediator_gets_the_number_and_it_is_audited(
    client: TestClient, world: ApiWorld
) -> None:
    answer = client.post(f"/api/v1/cases/{world.case_a}/call", headers=auth(world.tokens["med1"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["number"], body["privacy_number"], body["contact"]) == (NEW, False, "+86 139****0002")
    audit = client.get("/api/v1/audit?action=number.reveal", headers=auth(world.tokens["op"])).json()
    assert [(e["actor"], e["subject_id"], e["detail"]["contact"]) for e in audit] == [
        ("med1", world.case_a, "+86 139****0002")
    ]
    assert NEW not in json.dumps(audit)


def test_outcomes_are_recorded_and_bad_ones_refused(client: TestClient, world: ApiWorld) -> None:
    url, token = f"/api/v1/cases/{world.case_a}/outcomes", auth(world.tokens["med1"])
    answer = client.post(url, headers=token, json={"contact": NEW, "result": "reached", "note": "本人接听"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["contact"] == "+86 139****0002"
    with Session(world.engine) as session:
        stored = session.scalars(select(Outcome)).all()
        assert [(o.debtor_id, o.value, o.result, o.reporter) for o in stored] == [
            (world.case_a, NEW, "reached", "med1")
        ]
    for body in (
        {"contact": NEW, "result": "maybe"},
        {"contact": NEW},
        {"contact": 13900000002, "result": "reached"},
        {"contact": NEW, "result": "reached", "extra": 1},
        {"contact": "+8613111111111", "result": "reached"},  # not this debtor's number
        {"contact": NEW, "result": "reached", "note": "x" * 501},
        [1, 2],
    ):
        refused = client.post(url, headers=token, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"] and "13111111111" not in refused.text
    assert client.post(
        url,
        headers=token,
        content=b"{not json",
    ).status_code in (400, 422)
    # The other mediator's case does not exist for med1.
    other = client.post(
        f"/api/v1/cases/{world.case_b}/outcomes", headers=token, json={"contact": NEW, "result": "reached"}
    )
    assert other.status_code == 404
