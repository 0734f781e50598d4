"""A small world for carrier repair tests: lost debtors with and without an authorisation, the
sandbox's answers file, and connectors that fail on purpose."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from connectors.errors import RetryableError
from connectors.repair import (
    RepairConnector,
    RepairPending,
    RepairRequest,
    RepairResult,
    VirtualBinding,
    VirtualBindRequest,
)
from connectors.repair.sandbox import SandboxRepairConnector
from contactfix.db.identity_models import Identity, IdentityMember, ReconcileRun
from contactfix.db.models import Contact, Debtor, Organization, SourceRecord

# Tuesday 2026-11-24, 12:00 in Shanghai (as dispatch_support.WORKDAY_NOON).
NOW = dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.UTC)
LOST_PHONE = "+8613800001111"
_keys = itertools.count(1)


def id_number(index: int) -> str:
    """An 18-character resident ID (format only) for debtor ``index``."""
    return f"3501031990{index:07d}X"


def carrier_phone(index: int) -> str:
    """The number the carrier knows for debtor ``index``."""
    return f"+86137{index:08d}"


def case_number(index: int) -> str:
    return f"（2025）闽0103民初{index}号"


class CarrierWorld:
    """Debtors of one bank, built through one engine; ``debtors[i]`` is debtor ``i``'s id."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.debtors: dict[int, int] = {}
        with Session(engine) as session, session.begin():
            self.bank = self._org(session, "carrier-bank", "bank")
            self.court = self._org(session, "carrier-court", "court")
            run = ReconcileRun(status="completed", full=True)
            session.add(run)
            session.flush()
            self.run_id = run.id

    @staticmethod
    def _org(session: Session, name: str, kind: str) -> int:
        return int(
            session.execute(
                insert(Organization).values(name=name, kind=kind).returning(Organization.id)
            ).scalar_one()
        )

    def debtor(
        self,
        index: int,
        *,
        contract: str | None = None,
        court_case: bool = False,
        status: str = "lost",
        id_type: str = "resident_id",
        id_value: str | None = None,
    ) -> int:
        """Debtor ``index`` with its bank record (the phone the bank lost) and, if asked, a linked court
        record carrying case number ``case_number(index)``."""
        with Session(self.engine) as session, session.begin():
            record = self._record(session, "bank", self.bank, f"R{index:05d}", index)
            session.add(Contact(source_record_id=record.id, channel="phone", value=LOST_PHONE))
            debtor = Debtor(
                organization_id=self.bank, reference=f"R{index:05d}", source_record_id=record.id,
                party_type="person", name_original=f"张{index}", name=f"张{index}", id_type=id_type,
                id_number=id_value or id_number(index), contract_number=contract, status=status,
            )  # fmt: skip
            session.add(debtor)
            session.flush()
            identity = Identity()
            session.add(identity)
            session.flush()
            members = [record]
            if court_case:
                court = self._record(session, "court", self.court, case_number(index), index)
                court.case_year, court.court_code, court.case_type, court.case_sequence = (
                    2025,
                    "闽0103",
                    "民初",
                    index,
                )
                members.append(court)
            for member in members:
                session.add(
                    IdentityMember(source_record_id=member.id, identity_id=identity.id, probability=1.0,
                                   run_id=self.run_id)
                )  # fmt: skip
            self.debtors[index] = debtor.id
            return debtor.id

    @staticmethod
    def _record(session: Session, source: str, org: int, reference: str, index: int) -> SourceRecord:
        record = SourceRecord(
            source=source, record_key=f"{source}:{next(_keys)}", organization_id=org, reference=reference,
            observed_on=dt.date(2026, 6, 1), name_original=f"张{index}", name=f"张{index}",
        )  # fmt: skip
        session.add(record)
        session.flush()
        return record

    def status(self, index: int) -> str:
        with self.engine.connect() as connection:
            return str(
                connection.execute(select(Debtor.status).where(Debtor.id == self.debtors[index])).scalar_one()
            )


def write_answers(path: Path, indexes: Iterable[int]) -> Path:
    """The sandbox's answers file: the carrier knows debtors ``indexes``."""
    lines = ["id_number,phone"] + [f"{id_number(i)},{carrier_phone(i)}" for i in indexes]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sandbox(answers: Path, now: dt.datetime = NOW, validity_days: int = 30) -> SandboxRepairConnector:
    """The sandbox on a fixed clock, answering from ``answers``."""
    return SandboxRepairConnector(answers_path=answers, validity_days=validity_days, clock=lambda: now)


class FlakyConnector:
    """A connector in front of another that fails the submissions and queries named, once each.

    ``accepted`` counts the ID hashes of every batch the carrier accepted: nothing may appear twice.
    """

    def __init__(
        self, inner: RepairConnector, fail_submits: Sequence[int] = (), pending_queries: int = 0
    ) -> None:
        self.inner = inner
        self.fail_submits = set(fail_submits)
        self.pending_queries = pending_queries
        self.submits = 0
        self.accepted: Counter[str] = Counter()

    def submit(self, requests: Sequence[RepairRequest]) -> str:
        self.submits += 1
        if self.submits in self.fail_submits:
            raise RetryableError("carrier timeout after 30 s (request to +8613912345678 not confirmed)")
        batch_id = self.inner.submit(requests)
        self.accepted.update(request.id_sha256 for request in requests)
        return batch_id

    def query(self, batch_id: str) -> list[RepairResult]:
        if self.pending_queries:
            self.pending_queries -= 1
            raise RepairPending("the carrier is still matching")
        return self.inner.query(batch_id)

    def bind_virtual_number(self, request: VirtualBindRequest) -> VirtualBinding:
        return self.inner.bind_virtual_number(request)
