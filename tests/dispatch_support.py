"""Shared set-up of the dispatch tests and benchmark: repaired debtors with pending dispatches.

Rows are written directly (no intake, no linkage): dispatch only needs debtors, mediators and the
dispatch rows that a repair would have planned.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from contactfix.db.models import Debtor, DebtorStatus, Organization, SourceRecord
from contactfix.dispatch.channels import Channels, ChannelsConfig, RateLimit
from contactfix.dispatch.mediators import MediatorInput, add_mediator
from contactfix.dispatch.planning import PlannedContact, plan_dispatches
from contactfix.dispatch.sender import DispatchSender, SenderSettings
from contactfix.policy import load_profile

# Tuesday 2026-11-24, 12:00 in Shanghai: every mediator and every debtor may be contacted.
WORKDAY_NOON = dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.UTC)
# The same day, 23:00 in Shanghai: nobody may be.
WORKDAY_NIGHT = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
MEDIATOR_PHONES = ("+8613800000001", "+8613800000002", "+8613800000003")


def debtor_phone(index: int) -> str:
    """A valid-looking mainland mobile number for debtor number ``index``."""
    return f"+86139{index:08d}"


def make_debtors(
    engine: Engine, count: int, *, status: str = DebtorStatus.REPAIRED.value, batch: str = ""
) -> list[int]:
    """``count`` debtors of one bank (a new bank per ``batch``), each on its own record; their ids."""
    with engine.begin() as connection:
        org = connection.execute(
            insert(Organization).values(name=f"测试银行{batch}", kind="bank").returning(Organization.id)
        ).scalar_one()
        records = [
            {"source": "bank", "record_key": f"bank{batch}:{i}", "organization_id": org,
             "reference": f"R{i:07d}", "name_original": f"张{i}", "name": f"张{i}", "case_year": 2025,
             "court_code": "闽0103",
             "case_type": "民初", "case_sequence": i + 1}
            for i in range(count)
        ]  # fmt: skip
        connection.execute(insert(SourceRecord), records)
        ids = dict(
            connection.execute(
                select(SourceRecord.record_key, SourceRecord.id).where(SourceRecord.organization_id == org)
            ).all()
        )
        debtors = [
            {"organization_id": org, "reference": f"R{i:07d}", "source_record_id": ids[f"bank{batch}:{i}"],
             "party_type": "person", "name_original": "张三丰", "name": "张三丰", "status": status}
            for i in range(count)
        ]  # fmt: skip
        connection.execute(insert(Debtor), debtors)
        mine = select(Debtor.id).where(Debtor.organization_id == org).order_by(Debtor.id)
        return list(connection.execute(mine).scalars())


def add_mediators(engine: Engine, count: int = 2, hours: str | None = "08:00-20:00") -> None:
    """``count`` mediators of one center (phones from MEDIATOR_PHONES)."""
    with Session(engine) as session, session.begin():
        for number in range(count):
            new = MediatorInput(f"调解员{number}", MEDIATOR_PHONES[number], "测试调解中心", hours)
            add_mediator(session, new)


def plan_for(engine: Engine, debtor_ids: list[int]) -> int:
    """Plan one dispatch per debtor (its phone ``debtor_phone(i)``), as repair would; how many were new."""
    with Session(engine) as session, session.begin():
        repaired = {d: PlannedContact("phone", debtor_phone(i), 0.97) for i, d in enumerate(debtor_ids)}
        return plan_dispatches(session, repaired, None).planned


def make_dispatches(engine: Engine, count: int, mediators: int = 2, hours: str | None = None) -> list[int]:
    """Debtors, mediators and one pending dispatch each: the state a night's repair leaves behind.

    The mediators keep the policy profile's hours unless ``hours`` says otherwise.
    """
    debtors = make_debtors(engine, count)
    add_mediators(engine, mediators, hours)
    plan_for(engine, debtors)
    return debtors


def outbox_channels(path: Path, call: bool = True) -> Channels:
    """SMS (and call paths) through the outbox file at ``path``."""
    config = ChannelsConfig(
        sms="outbox",
        call="outbox" if call else None,
        options={"outbox": {"path": str(path)}},
        limits={"outbox": RateLimit(1000.0, 1000.0)},
        recipient_limit=RateLimit(1000.0, 1000.0),
    )
    return Channels.open(config)


def make_sender(
    engine: Engine, channels: Channels, now: dt.datetime = WORKDAY_NOON, **settings: float
) -> DispatchSender:
    """A sender on the China profile with a fixed clock."""
    return DispatchSender(
        engine,
        channels,
        load_profile("cn"),
        SenderSettings(**settings),
        clock=lambda: now,  # type: ignore[arg-type]
    )
