"""The bank page's funnel per batch: grouped in SQL against one funnel() per batch.

``python -m bench.funnel_bench [--batches N] [--debtors D] [--repeats R]`` builds N bank batches of D
debtors each (tests/funnel_support.py: repaired, dispatched, reached and mediated shares as there) in
a throwaway PostgreSQL database, then alternates ``funnel_by_submission`` (every batch at once) and a
loop of ``funnel(submission_id=…)`` (what the page would cost asking batch by batch), counting
statements and timing each. Results under "## Bank funnel per batch" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.machine import machine_summary
from bench.reconcile_bench import PG_ADMIN_URL, RESULTS

SECTION = "## Bank funnel per batch"


def _timed(engine: Any, work: Any) -> tuple[float, int]:
    from sqlalchemy import event

    seen = [0]

    def count(*_: object) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started, seen[0]
    finally:
        event.remove(engine, "before_cursor_execute", count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--debtors", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from funnel_support import add_batches
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from contactfix.db import make_engine, throwaway_database, upgrade_database
    from contactfix.db.models import Submission
    from contactfix.pipeline.report import funnel, funnel_by_submission

    grouped: list[tuple[float, int]] = []
    looped: list[tuple[float, int]] = []
    with throwaway_database(PG_ADMIN_URL, "contactfix_bench") as url:
        upgrade_database(url)
        engine = make_engine(url)
        with Session(engine) as session:
            add_batches(session, "bank-a", args.batches, args.debtors, dt.date(2024, 1, 1), every_days=1)
            add_batches(session, "bank-b", args.batches // 4, args.debtors, dt.date(2024, 1, 1), every_days=1)
            session.commit()
        with Session(engine) as session:
            org = session.query(Submission.organization_id).order_by(Submission.id).first()
            assert org is not None
            mine = Submission.organization_id == org[0]
            ids = [b.submission_id for b in funnel_by_submission(session, mine)]
            session.execute(text("ANALYZE"))
            for _ in range(args.repeats):
                grouped.append(_timed(engine, lambda: funnel_by_submission(session, mine)))
                looped.append(_timed(engine, lambda: [funnel(session, submission_id=i) for i in ids]))
        engine.dispose()
    g = statistics.median(s for s, _ in grouped)
    loop = statistics.median(s for s, _ in looped)
    lines = [
        f"`python -m bench.funnel_bench --batches {args.batches} --debtors {args.debtors} --repeats "
        f"{args.repeats}` — PostgreSQL 127.0.0.1, {machine_summary()}.",
        "",
        "| every batch's funnel of one bank | statements | seconds (median) |",
        "|---|---:|---:|",
        f"| funnel_by_submission (grouped) | {grouped[0][1]} | {g:.3f} |",
        f"| funnel(submission_id) per batch | {looped[0][1]:,} | {loop:.3f} |",
        "",
        f"{args.batches:,} batches of {args.debtors} debtors for the bank asked (and "
        f"{args.batches // 4:,} of another bank's in the same tables); grouped / per batch: "
        f"{g / loop:.3f} of the time.",
    ]
    print("\n".join(lines))
    if not args.no_record:
        content = RESULTS.read_text(encoding="utf-8")
        section = "\n".join([SECTION, "", *lines]).rstrip() + "\n"
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
        if pattern.search(content):
            content = pattern.sub(lambda _: section + "\n", content)
        else:
            content = content.rstrip() + "\n\n" + section
        RESULTS.write_text(content.rstrip() + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
