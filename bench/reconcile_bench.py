"""Reconciliation time and memory on PostgreSQL: a full run, then an incremental run after a small change.

``python -m bench.reconcile_bench [--debtors N[,N…]] [--seed S] [--change 0.01] [--database-url URL]``
writes ``contactfix sample --debtors N`` (N bank debtors, about 4N court records), holds back the
newest court filings — ``--change`` of all records — as the next day's export, and takes the rest in.
Then, each as ``contactfix reconcile --json`` in its own process (wall time and that process's peak
RSS): a full run, the held-back export taken in and an incremental run, and a run with nothing new.
Pairwise F1 of the identities against the sample's truth is computed after the full run. Results go
under "## Reconciliation" in bench/RESULTS.md (``--no-record``: printed only). The database is a
throwaway one on the local server unless ``--database-url`` names one (which must be empty).

The target is 250,000 debtors against 1,000,000 court records on 2 cores: full < 15 min,
incremental (1%) < 1 min — ``python -m bench.reconcile_bench --debtors 250000``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.machine import machine_summary

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Reconciliation"
DATA = Path(__file__).resolve().parent / "out" / "data"
PG_ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"
_STEPS = ("load", "fit", "normalise", "score", "keys", "links", "identities", "repair", "finish")


def _world(debtors: int, seed: int, change: float) -> Path:
    """The sample in bench/out/data, with court_old.csv and court_new.csv (the last ``change`` share)."""
    from contactfix.sample import write_sample

    folder = DATA / f"reconcile-{debtors}-{seed}-{change:g}"
    if (folder / "court_new.csv").exists():
        return folder
    summary = write_sample(folder, debtors, seed)
    held_back = round(change * (summary.bank_rows + summary.court_rows))
    with (folder / "court.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    cut = len(rows) - held_back
    for name, part in (("court_old.csv", rows[:cut]), ("court_new.csv", [rows[0], *rows[cut:]])):
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(part)
    return folder


@contextmanager
def _throwaway_database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from contactfix.db import throwaway_database

    with throwaway_database(PG_ADMIN_URL, "contactfix_bench") as throwaway:
        yield throwaway


def _take_in(url: str, path: Path, kind: str) -> float:
    from contactfix.db import make_engine
    from contactfix.intake import import_court_export, submit_bank_batch
    from contactfix.privacy import keyring_for, using_keyring

    engine = make_engine(url)
    started = time.perf_counter()
    # Under the key the reconcile children get: intake seals and hashes what they must read.
    with using_keyring(keyring_for(url, _DATA_KEY)):
        if kind == "bank":
            submit_bank_batch(engine, path, "bench bank")
        else:
            import_court_export(engine, path)
    engine.dispose()
    return time.perf_counter() - started


_DATA_KEY = base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _reconcile(url: str, *extra: str) -> dict[str, Any]:
    """``contactfix reconcile --json`` in a child process: its counts, wall seconds and peak RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_")}
    env["CONTACTFIX_DATABASE_URL"] = url
    env["CONTACTFIX_DATA_KEY"] = _DATA_KEY  # every run of one database keys its hashes alike
    command = [str(Path(sys.executable).parent / "contactfix"), "reconcile", "--json", *extra]
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as errors:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert child.stdout is not None
        out = child.stdout.read()
        # wait4, not wait: it hands back this child's own resource usage (its peak RSS).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        errors.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"contactfix reconcile failed ({child.returncode}): {errors.read()[-500:]}")
    counts: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    counts["wall"] = seconds
    counts["peak_mib"] = usage.ru_maxrss / 1024
    return counts


def _database_figures(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from contactfix.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        figures = {
            table: int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("source_records", "blocking_keys", "record_links", "identities")
        }
        figures["database_mib"] = int(
            connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
        ) // (1 << 20)
    engine.dispose()
    return figures


def _f1(url: str, folder: Path) -> float:
    """Pairwise F1 of the stored identities against truth.csv (court rows by case number and name)."""
    import sqlalchemy as sa

    from contactfix.db import make_engine
    from matchers.errors import InvalidCaseNumber
    from matchers.identifiers import parse_case_number

    with (folder / "truth.csv").open(encoding="utf-8") as handle:
        person = {(r["source"], r["id"]): r["person_id"] for r in csv.DictReader(handle)}
    by_case: dict[tuple[str, str], set[str]] = {}
    with (folder / "court.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                reference = parse_case_number(row["case_number"]).canonical
            except InvalidCaseNumber:
                reference = row["case_number"]
            by_case.setdefault((reference, row["name"]), set()).add(person[("court", row["id"])])
    query = sa.text(
        "SELECT s.id, s.source, s.reference, s.name_original, m.identity_id FROM source_records s "
        "JOIN identity_members m ON m.source_record_id = s.id"
    )
    engine = make_engine(url)
    people: dict[str, list[int]] = {}
    identities: dict[int, list[int]] = {}
    with engine.connect() as connection:
        for record_id, source, reference, name, identity in connection.execute(query):
            found = (
                {person[("bank", reference)]} if source == "bank" else by_case.get((reference, name), set())
            )
            if len(found) == 1:
                people.setdefault(next(iter(found)), []).append(record_id)
                identities.setdefault(identity, []).append(record_id)
    engine.dispose()
    actual = {p for members in people.values() for p in combinations(sorted(members), 2)}
    predicted = {p for members in identities.values() for p in combinations(sorted(members), 2)}
    hits = len(actual & predicted)
    return 2 * hits / (len(actual) + len(predicted)) if hits else 0.0


def _row(label: str, c: dict[str, Any]) -> str:
    seconds = c.get("seconds", {})
    steps = " · ".join(f"{k} {seconds[k]:.1f}" for k in _STEPS if k in seconds)
    repair = c.get("ranked_debtors", 0)
    return (
        f"| {label} | {c['records_compared']:,} | {c.get('candidate_pairs', 0):,} | {c.get('links', 0):,} "
        f"| {c.get('new_identities', 0):,} · {c.get('changed_identities', 0):,} | {c['wall']:.1f} "
        f"| {steps} | {repair:,} | {c['peak_mib']:,.0f} |"
    )


_NOTE = (
    "Each run is `contactfix reconcile --json` in its own process: wall time includes start-up (about "
    "2 s), resolve (load … identities), the repair step (contact ranking, another issue's code) and "
    "finish (record versions, run row); peak RSS is that process's. Records compared are those whose "
    "content changed; every record updated within the lookback (an hour before the last run's "
    "watermark; here all of them, taken in just before) is checked by its version row only. The "
    "PostgreSQL server's own CPU and memory are not included. For the target size (250,000 debtors, "
    "about 1,000,000 court records; full < 15 min, 1 % incremental < 1 min on 2 cores): "
    "`python -m bench.reconcile_bench --debtors 250000`."
)


def _report(
    debtors: int, args: argparse.Namespace, runs: list[tuple[str, dict[str, Any]]], extra: dict[str, Any]
) -> list[str]:
    db = extra["database"]
    summary = (
        f"**{debtors:,} debtors**: {db['source_records']:,} source records (the rest court parties); "
        f"intake {extra['intake']:.0f} s (not part of the runs). After the runs: {db['blocking_keys']:,} "
        f"blocking key rows, {db['record_links']:,} links, {db['identities']:,} identities, database "
        f"{db['database_mib']:,} MiB. Pairwise F1 of the identities after the full run: {extra['f1']:.4f}."
    )
    return [
        summary,
        "",
        "| run | records compared | candidate pairs | links written | identities new · changed | wall s "
        "| steps, s | debtors ranked (repair) | peak RSS MiB |",
        "|---|---:|---:|---:|---|---:|---|---:|---:|",
        *[_row(label, counts) for label, counts in runs],
        "",
    ]


def _bench(debtors: int, args: argparse.Namespace) -> list[str]:
    """One size: write or reuse its sample, take it in, run full, incremental and idle runs."""
    folder = _world(debtors, args.seed, args.change)
    with _throwaway_database(args.database_url) as url:
        from contactfix.db import upgrade_database

        upgrade_database(url)
        intake = _take_in(url, folder / "bank.csv", "bank") + _take_in(url, folder / "court_old.csv", "court")
        runs = [("full", _reconcile(url))]
        f1 = _f1(url, folder)
        _take_in(url, folder / "court_new.csv", "court")
        runs.append((f"incremental ({args.change:.0%} new)", _reconcile(url)))
        runs.append(("nothing new", _reconcile(url)))
        extra = {"intake": intake, "f1": f1, "database": _database_figures(url)}
    return _report(debtors, args, runs, extra)


def write_results(lines: list[str]) -> None:
    """Replace the "## Reconciliation" section of bench/RESULTS.md (other sections are left as they are)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    section = "\n".join([SECTION, "", *lines]).rstrip() + "\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables and (unless --no-record) record them. Returns 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", default="20000", help="one size or several, comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--change", type=float, default=0.01, help="share of records in the next day's export"
    )
    parser.add_argument(
        "--database-url", default=None, help="an empty PostgreSQL database (default: throwaway)"
    )
    parser.add_argument("--no-record", action="store_true", help="print, do not write bench/RESULTS.md")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.debtors.split(",")]
    if args.database_url is not None and len(sizes) > 1:
        parser.error("--database-url takes one size at a time (the database must start empty)")
    command = "python -m bench.reconcile_bench " + (
        f"--debtors {args.debtors} --seed {args.seed} --change {args.change:g}"
    )
    lines = [f"`{command}` — PostgreSQL 127.0.0.1, {machine_summary()}.", ""]
    for debtors in sizes:
        lines += _bench(debtors, args)
    lines.append(_NOTE)
    print("\n".join(lines))
    if not args.no_record:
        write_results(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
