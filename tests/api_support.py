"""A world for the API tests: two banks sharing a debtor's identity, a court, a mediation center
with two mediators, and a user with a token for each role and organisation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from repair_support import AS_OF, World
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.routing import Mount

from contactfix.access import add_organization, add_user
from contactfix.api import create_app
from contactfix.db.dispatch_models import CaseAssignment, Mediator
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Submission
from contactfix.pipeline.repair import repair_contacts
from contactfix.settings import Settings, load_settings

LOST, NEW, OTHER_BANK_PHONE = "+8613800000001", "+8613900000002", "+8613600000006"
B_OWN_PHONE = "+8613500000005"
CASE = "（2026）闽0103民初12号"
CENTER = "示范调解中心"
MEDIATOR_PHONE = "+8613700000009"
# 10:00 in Shanghai: inside every contact window of the cn profile.
DAYTIME = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)  # 23:00 in Shanghai


@dataclass
class ApiWorld:
    """Ids and tokens of the world; ``tokens`` by login."""

    url: str
    engine: Engine
    tokens: dict[str, str]
    case_a: int  # bank-a's CF001, assigned to mediator 甲
    case_b: int  # bank-b's CF777 (the same person), assigned to mediator 乙
    submission_a: int
    submission_b: int


def build_world(url: str) -> ApiWorld:
    """bank-a's CF001 was repaired by a court phone; bank-b holds the same person as CF777 with a
    phone of its own. Users: alice (bank-a), bob (bank-b), med1/med2 (the mediators), op (operator)."""
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        world = World(session)
        run = world.run()
        debtor_a = world.debtor("CF001", "张伟", LOST, status="repaired")
        court = world.record("court", "張偉", reference=CASE, observed_on=dt.date(2026, 5, 1), phones=[NEW])
        court.case_year, court.court_code, court.case_type, court.case_sequence = 2026, "闽0103", "民初", 12
        bank_a = world.bank
        world.bank = world.other_bank
        debtor_b = world.debtor("CF777", "张伟", B_OWN_PHONE)
        world.contact(world.bank_records[debtor_b.id], "phone", OTHER_BANK_PHONE)
        world.bank = bank_a
        world.identity(
            run,
            (world.bank_records[debtor_a.id], 1.0),
            (court, 0.999),
            (world.bank_records[debtor_b.id], 0.999),
        )
        repair_contacts(session, run, as_of=AS_OF)
        submissions = []
        for org in (world.bank, world.other_bank):
            submission = Submission(
                organization_id=org.id, kind="bank_batch", filename="b.csv", content_sha256=f"{org.id:064d}",
                status="completed", rows=1, accepted=1,
            )  # fmt: skip
            session.add(submission)
            session.flush()
            submissions.append(submission.id)
        add_organization(session, CENTER, "mediation_center")
        mediators = [Mediator(name=name, center=CENTER, phone=MEDIATOR_PHONE) for name in ("甲", "乙")]
        session.add_all(mediators)
        session.flush()
        session.add_all(
            [
                CaseAssignment(debtor_id=debtor_a.id, mediator_id=mediators[0].id, kind="explicit"),
                CaseAssignment(debtor_id=debtor_b.id, mediator_id=mediators[1].id, kind="explicit"),
            ]
        )
        users = [
            add_user(session, "alice", "bank-a", "bank"),
            add_user(session, "bob", "bank-b", "bank"),
            add_user(session, "med1", CENTER, "mediator", mediator="甲"),
            add_user(session, "med2", CENTER, "mediator", mediator="乙"),
            add_user(session, "op", CENTER, "operator"),
        ]
        session.commit()
        ids = (debtor_a.id, debtor_b.id)
    return ApiWorld(url, engine, {u.login: u.token for u in users}, *ids, *submissions)


def settings_for(world: ApiWorld, tmp_path: Path, **overrides: object) -> Settings:
    """Settings on the world's database, the outbox in ``tmp_path``."""
    return load_settings(
        environ={}, database_url=world.url, outbox_path=str(tmp_path / "outbox.jsonl"), **overrides
    )


def v1_app(app: FastAPI) -> FastAPI:
    """The /api/v1 sub-application of ``app``."""
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/api/v1":
            assert isinstance(route.app, FastAPI)
            return route.app
    raise AssertionError("no /api/v1 mount")


def client_for(world: ApiWorld, settings: Settings, *, now: dt.datetime = DAYTIME) -> Iterator[TestClient]:
    """A test client of the whole app, its v1 clock set to ``now``."""
    app = create_app(settings, world.engine)
    v1_app(app).state.clock = lambda: now
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}
