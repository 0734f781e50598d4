"""A small world for the web pages' tests, on a temporary SQLite database, and the app serving it.

bank-a's debtor CF001 (张伟) lost the number LOST; two court filings give newer candidates, FIRST
(2026) and SECOND (2024), and the case is mediator 甲's. bank-a's CF002 (李娜) is mediator 乙's.
Users, each with the password PASSWORD: ``bank-a-ops`` (bank-a), ``med-a`` (甲), ``med-b`` (乙),
``ops`` (an operator of the mediation center).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from repair_support import AS_OF, World
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.routing import Mount

from contactfix.access import add_organization, add_user
from contactfix.api import create_app
from contactfix.db.engine import make_engine
from contactfix.db.identity_models import ReconcileRun
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Debtor
from contactfix.dispatch.mediators import MediatorInput, add_mediator, assign_explicitly
from contactfix.pipeline.repair import RepairCounts, repair_contacts
from contactfix.settings import Settings, load_settings

LOST, FIRST, SECOND = "+8613800000001", "+8613900000002", "+8613700000003"
OTHER_PHONE = "+8613600000006"
CASE = "（2026）闽0103民初12号"
CENTER = "示范调解中心"
PASSWORD = "correct horse battery"
# 10:00 in Shanghai: inside every contact window of the cn profile; 23:00: outside.
DAYTIME = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)


@dataclass
class WebWorld:
    url: str
    engine: Engine
    case_a: int  # CF001, mediator 甲's
    case_b: int  # CF002, mediator 乙's


def build_web_world(url: str) -> WebWorld:
    """The world above, repaired (FIRST ranked first) and committed."""
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        world = World(session)
        add_organization(session, CENTER, "mediation_center")
        first = add_mediator(session, MediatorInput(name="甲", phone="13700000009", center=CENTER))
        second = add_mediator(session, MediatorInput(name="乙", phone="13700000008", center=CENTER))
        run = world.run()
        debtor = world.debtor("CF001", "张伟", LOST)
        newer = world.record("court", "张伟", reference=CASE, observed_on=dt.date(2026, 5, 1), phones=[FIRST])
        newer.case_year, newer.court_code, newer.case_type, newer.case_sequence = 2026, "闽0103", "民初", 12
        older = world.record(
            "court",
            "张伟",
            reference="（2024）闽0103民初7号",
            observed_on=dt.date(2024, 3, 1),
            phones=[SECOND],
        )
        world.identity(run, (world.bank_records[debtor.id], 1.0), (newer, 0.999), (older, 0.998))
        other = world.debtor("CF002", "李娜", None)
        filing = world.record(
            "court", "李娜", reference="（2026）闽0103民初99号", observed_on=dt.date(2026, 4, 1),
            phones=[OTHER_PHONE],
        )  # fmt: skip
        filing.case_year, filing.court_code, filing.case_type, filing.case_sequence = (
            2026,
            "闽0103",
            "民初",
            99,
        )
        world.identity(run, (world.bank_records[other.id], 1.0), (filing, 0.999))
        assign_explicitly(session, debtor.id, first)
        assign_explicitly(session, other.id, second)
        repair_contacts(session, run, as_of=AS_OF)
        add_user(session, "bank-a-ops", "bank-a", "bank", password=PASSWORD)
        add_user(session, "med-a", CENTER, "mediator", mediator="甲", password=PASSWORD)
        add_user(session, "med-b", CENTER, "mediator", mediator="乙", password=PASSWORD)
        add_user(session, "ops", CENTER, "operator", password=PASSWORD)
        session.commit()
        ids = (debtor.id, other.id)
    return WebWorld(url, engine, *ids)


def copied_world(template: Path, folder: Path) -> WebWorld:
    """A fresh copy of the world built once in the SQLite file ``template`` (building it — migrations,
    argon2 hashes — takes seconds; copying it, milliseconds)."""
    target = folder / "web.sqlite3"
    shutil.copyfile(template, target)
    url = f"sqlite:///{target}"
    engine = make_engine(url)
    with Session(engine) as session:
        ids = [
            session.scalar(select(Debtor.id).where(Debtor.reference == reference))
            for reference in ("CF001", "CF002")
        ]
    return WebWorld(url, engine, int(ids[0] or 0), int(ids[1] or 0))


def world_template(folder: Path) -> Path:
    """Build the world once into ``folder``; its SQLite file."""
    path = folder / "template.sqlite3"
    build_web_world(f"sqlite:///{path}").engine.dispose()
    return path


def build_review_world(url: str, folder: Path) -> Engine:
    """A 120-debtor sample taken in and reconciled once (about 25 links in the review band), and the
    operator ``ops`` with PASSWORD."""
    from reconcile_support import load_world, write_world

    from contactfix.pipeline.reconcile import reconcile

    engine = load_world(url, write_world(folder, 120, 11), court="all")
    reconcile(engine, repair=False)
    with Session(engine) as session:
        add_organization(session, CENTER, "mediation_center")
        add_user(session, "ops", CENTER, "operator", password=PASSWORD)
        session.commit()
    return engine


def rerank(world: WebWorld) -> RepairCounts:
    """The repair step of a reconciliation run: ranks again with the outcomes reported since."""
    with Session(world.engine) as session:
        run = ReconcileRun(status="running", full=False)
        session.add(run)
        session.flush()
        counts = repair_contacts(session, run.id, as_of=AS_OF)
        session.commit()
    return counts


def web_settings(world: WebWorld, tmp_path: Path) -> Settings:
    """Settings on the world's database: plain-http cookies (a loopback server), a fixed secret."""
    return load_settings(
        environ={}, database_url=world.url, outbox_path=str(tmp_path / "outbox.jsonl"),
        web_secure_cookies=False, web_session_secret="test-secret-" + "x" * 32,
    )  # fmt: skip


def set_clock(app: FastAPI, now: dt.datetime) -> FastAPI:
    """Every sub-application of ``app`` (API v1, web) tells the time as ``now``."""
    for route in app.routes:
        if isinstance(route, Mount) and isinstance(route.app, FastAPI):
            route.app.state.clock = lambda: now
    return app


def web_app(world: WebWorld, tmp_path: Path, *, now: dt.datetime = DAYTIME) -> FastAPI:
    return set_clock(create_app(web_settings(world, tmp_path), world.engine), now)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port in a thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
