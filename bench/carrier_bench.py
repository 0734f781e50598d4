"""Carrier repair of lost debtors through the sandbox connector, on SQLite and PostgreSQL.

    python -m bench.carrier_bench [--debtors 5000] [--backends sqlite postgresql]

The database holds ``--debtors`` lost debtors, each with the phone the bank lost: 60% with a loan
contract, 20% with a linked court record carrying a case number (a court delegation), 20% with no
authorisation; the sandbox's answers file knows 3 in 4 of them. One pass of
:func:`contactfix.pipeline.carrier.carrier_repair` is timed (selection, batches of 1,000 written,
submitted, queried, numbers stored, debtors repaired, dispatches planned, every request audited), then
a second pass that finds nothing to do. Prints one JSON line per backend and a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

from bench.machine import machine_summary

ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"
NOW = dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.UTC)


def _id_number(index: int) -> str:
    return f"3501031990{index:07d}X"


def _populate(engine: Engine, count: int, answers: Path) -> None:
    from sqlalchemy.orm import Session

    from contactfix.db.identity_models import Identity, IdentityMember, ReconcileRun
    from contactfix.db.models import Contact, Debtor, Organization, SourceRecord
    from contactfix.dispatch.mediators import MediatorInput, add_mediator

    with engine.begin() as connection:
        bank = connection.execute(
            insert(Organization).values(name="bank", kind="bank").returning(Organization.id)
        ).scalar_one()
        court = connection.execute(
            insert(Organization).values(name="court", kind="court").returning(Organization.id)
        ).scalar_one()
        run = connection.execute(
            insert(ReconcileRun).values(status="completed", full=True).returning(ReconcileRun.id)
        ).scalar_one()
        bank_records = [
            {"source": "bank", "record_key": f"bank:{i}", "organization_id": bank, "reference": f"R{i:07d}",
             "name_original": f"张{i}", "name": f"张{i}"}
            for i in range(count)
        ]  # fmt: skip
        court_records = [
            {"source": "court", "record_key": f"court:{i}", "organization_id": court, "reference": f"C{i}",
             "name_original": f"张{i}", "name": f"张{i}", "case_year": 2025, "court_code": "闽0103",
             "case_type": "民初", "case_sequence": i}
            for i in range(count) if i % 5 == 3
        ]  # fmt: skip
        # Two statements: an executemany takes its columns from the first row.
        connection.execute(insert(SourceRecord), bank_records)
        connection.execute(insert(SourceRecord), court_records)
        ids = dict(connection.execute(select(SourceRecord.record_key, SourceRecord.id)).all())
        connection.execute(
            insert(Contact),
            [
                {"source_record_id": ids[f"bank:{i}"], "channel": "phone", "value": "+8613800001111"}
                for i in range(count)
            ],
        )
        connection.execute(
            insert(Debtor),
            [
                {"organization_id": bank, "reference": f"R{i:07d}", "source_record_id": ids[f"bank:{i}"],
                 "party_type": "person", "name_original": f"张{i}", "name": f"张{i}",
                 "id_type": "resident_id", "id_number": _id_number(i), "status": "lost",
                 "contract_number": f"HT{i:08d}" if i % 5 < 3 else None}
                for i in range(count)
            ],
        )  # fmt: skip
        identities = (
            connection.execute(insert(Identity).returning(Identity.id), [{"flags": []} for _ in range(count)])
            .scalars()
            .all()
        )
        members = [{"source_record_id": ids[f"bank:{i}"], "identity_id": identities[i], "probability": 1.0,
                    "run_id": run} for i in range(count)]  # fmt: skip
        members += [{"source_record_id": ids[f"court:{i}"], "identity_id": identities[i], "probability": 1.0,
                     "run_id": run} for i in range(count) if i % 5 == 3]  # fmt: skip
        connection.execute(insert(IdentityMember), members)
    with Session(engine) as session, session.begin():
        for n in range(2):
            add_mediator(session, MediatorInput(f"调解员{n}", f"+861380000000{n + 1}", "中心", "08:00-20:00"))
    lines = ["id_number,phone"] + [f"{_id_number(i)},+86137{i:08d}" for i in range(count) if i % 4 != 0]
    answers.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _database(backend: str, folder: Path) -> Iterator[str]:
    from contactfix.db.engine import throwaway_database

    if backend == "sqlite":
        yield f"sqlite:///{folder / 'carrier.sqlite3'}"
        return
    with throwaway_database(ADMIN_URL, "contactfix_carrier_bench") as url:
        yield url


def run(backend: str, count: int) -> dict[str, Any]:
    """One backend: populate, then time a pass and a second, empty one."""
    from connectors.repair.sandbox import SandboxRepairConnector
    from contactfix.db.engine import make_engine
    from contactfix.db.migrate import upgrade_database
    from contactfix.pipeline.carrier import CarrierOptions, carrier_repair

    with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp)) as url:
        upgrade_database(url)
        engine = make_engine(url)
        answers = Path(tmp) / "answers.csv"
        _populate(engine, count, answers)
        if backend == "postgresql":  # as a database in service would have its statistics
            with engine.connect() as connection:
                connection.execute(text("ANALYZE")).close()
                connection.commit()
        options = CarrierOptions("sandbox-repair")
        started = time.perf_counter()
        sandbox = SandboxRepairConnector(answers_path=answers, clock=lambda: NOW)
        counts = carrier_repair(engine, sandbox, options, as_of=NOW)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = carrier_repair(engine, sandbox, options, as_of=NOW + dt.timedelta(hours=1))
        second = time.perf_counter() - started
        engine.dispose()
    return {
        "backend": backend, "debtors": count, "seconds": round(seconds, 2),
        "second_pass_seconds": round(second, 2),
        "requested": counts.carrier_requested, "repaired": counts.carrier_repaired,
        "no_match": counts.carrier_no_match, "unauthorised": counts.carrier_unauthorised,
        "dispatches": counts.carrier_dispatches_planned, "second_pass_requested": again.carrier_requested,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=5000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(machine_summary())
    rows = []
    for backend in args.backends:
        row = run(backend, args.debtors)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| backend | lost debtors | asked | repaired | not repaired | no authorisation | dispatches "
          "| seconds | debtors/s | second pass |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = r["debtors"] / r["seconds"]
        print(f"| {r['backend']} | {r['debtors']:,} | {r['requested']:,} | {r['repaired']:,} "
              f"| {r['no_match']:,} | {r['unauthorised']:,} | {r['dispatches']:,} | {r['seconds']} "
              f"| {rate:,.0f} | {r['second_pass_seconds']} s, "
              f"{r['second_pass_requested']} asked |")  # fmt: skip


if __name__ == "__main__":
    main()
