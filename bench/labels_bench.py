"""What review labels cost a full reconciliation, and that without labels nothing changed.

``python -m bench.labels_bench [--debtors N] [--labels L] [--repeats R] [--main PATH]`` takes a
``contactfix sample`` of N debtors into a throwaway PostgreSQL database once, then alternates full
refitting runs (``contactfix reconcile --full --json``, each in its own process):

- ``before``: the code of the checkout at ``--main`` (default /work/main, the code before labels),
  imported ahead of this one with PYTHONPATH, no labels in the database;
- ``no labels``: this code, no labels;
- ``labels``: this code, with L decisions in ``link_reviews`` (the L links nearest 0.5 after the
  first run, decided by the sample's truth as an operator would).

Runs of one kind are compared with the other kinds run in between (the machine is shared). Also
checked: ``before`` and ``no labels`` store the same model parameters and the same links, bit for bit.
Results go under "## Review labels in the fit" in bench/RESULTS.md (``--no-record``: printed only).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.machine import machine_summary
from bench.reconcile_bench import (
    RESULTS,
    _reconcile,
    _take_in,
    _throwaway_database,
    _world,
)

SECTION = "## Review labels in the fit"


def _run(url: str, pythonpath: str | None) -> dict[str, Any]:
    previous = os.environ.get("PYTHONPATH")
    try:
        if pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = pythonpath
        return _reconcile(url, "--full")
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def _state(url: str) -> tuple[str, str]:
    """The newest stored model's m, u and prior, and a digest of every link (pair, probability)."""
    import hashlib

    import sqlalchemy as sa

    from contactfix.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        params = connection.execute(
            sa.text("SELECT params FROM link_models ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        digest = hashlib.sha256()
        rows = connection.execute(
            sa.text("SELECT record_a_id, record_b_id, probability FROM record_links ORDER BY 1, 2")
        )
        for a, b, p in rows:
            digest.update(f"{a},{b},{p!r};".encode())
    engine.dispose()
    model = json.dumps({k: params[k] for k in ("m", "u", "prior")}, sort_keys=True)
    return hashlib.sha256(model.encode()).hexdigest(), digest.hexdigest()


def _truth(folder: Path, url: str) -> dict[int, str]:
    import sqlalchemy as sa

    from contactfix.db import make_engine

    with (folder / "truth.csv").open(encoding="utf-8") as handle:
        person = {(r["source"], r["id"]): r["person_id"] for r in csv.DictReader(handle)}
    from matchers.errors import InvalidCaseNumber
    from matchers.identifiers import parse_case_number

    court: dict[tuple[str, str], str] = {}
    with (folder / "court.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                reference = parse_case_number(row["case_number"]).canonical
            except InvalidCaseNumber:
                reference = row["case_number"]
            court[(reference, row["name"])] = person[("court", row["id"])]
    engine = make_engine(url)
    found: dict[int, str] = {}
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, source, reference, name_original FROM source_records"))
        for record_id, source, reference, name in rows:
            key = person.get(("bank", reference)) if source == "bank" else court.get((reference, name))
            if key is not None:
                found[int(record_id)] = key
    engine.dispose()
    return found


def _label(url: str, folder: Path, count: int) -> int:
    """Decide the ``count`` links nearest 0.5 whose two records the truth knows, as it says; returns
    how many were decided."""
    import sqlalchemy as sa

    from contactfix.db import make_engine

    people = _truth(folder, url)
    engine = make_engine(url)
    with engine.begin() as connection:
        links = connection.execute(
            sa.text(
                "SELECT record_a_id, record_b_id, probability FROM record_links "
                "ORDER BY abs(probability - 0.5)"
            )
        ).all()
        decided = 0
        for a, b, probability in links:
            if decided == count:
                break
            if a not in people or b not in people:
                continue
            connection.execute(
                sa.text(
                    "INSERT INTO link_reviews (record_a_id, record_b_id, same, probability, reviewer) "
                    "VALUES (:a, :b, :same, :p, 'bench')"
                ),
                {"a": a, "b": b, "same": people[a] == people[b], "p": probability},
            )
            decided += 1
    engine.dispose()
    return decided


def _clear_labels(url: str) -> None:
    import sqlalchemy as sa

    from contactfix.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM link_reviews"))
    engine.dispose()


def _labels_back(url: str, rows: list[Any]) -> None:
    import sqlalchemy as sa

    from contactfix.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        for a, b, same, p in rows:
            connection.execute(
                sa.text(
                    "INSERT INTO link_reviews (record_a_id, record_b_id, same, probability, reviewer) "
                    "VALUES (:a, :b, :same, :p, 'bench')"
                ),
                {"a": a, "b": b, "same": same, "p": p},
            )
    engine.dispose()


def _saved_labels(url: str) -> list[Any]:
    import sqlalchemy as sa

    from contactfix.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT record_a_id, record_b_id, same, probability FROM link_reviews")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--main", default="/work/main", help="checkout of the code before labels")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    folder = _world(args.debtors, args.seed, 0.01)
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "no labels": [], "labels": []}
    states: dict[str, set[tuple[str, str]]] = {"before": set(), "no labels": set(), "labels": set()}
    with _throwaway_database(None) as url:
        from contactfix.db import upgrade_database

        upgrade_database(url)
        _take_in(url, folder / "bank.csv", "bank")
        _take_in(url, folder / "court_old.csv", "court")
        _run(url, None)  # the first run: links to label
        decided = _label(url, folder, args.labels)
        labels = _saved_labels(url)
        for _ in range(args.repeats):
            for kind in ("before", "no labels", "labels"):
                _clear_labels(url)
                if kind == "labels":
                    _labels_back(url, labels)
                counts = _run(url, args.main if kind == "before" else None)
                runs[kind].append(counts)
                states[kind].add(_state(url))
    same_model = states["before"] == states["no labels"] and len(states["before"]) == 1
    lines = [
        f"`python -m bench.labels_bench --debtors {args.debtors} --labels {args.labels} --repeats "
        f"{args.repeats}` — PostgreSQL 127.0.0.1, {machine_summary()}.",
        "",
        "| run | runs | labelled pairs | wall s (median) | fit s (median) | score s (median) | links |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, found in runs.items():
        fit = statistics.median(r["seconds"].get("fit", 0.0) for r in found)
        score = statistics.median(r["seconds"].get("score", 0.0) for r in found)
        wall = statistics.median(r["wall"] for r in found)
        lines.append(
            f"| {kind} | {len(found)} | {found[0].get('labelled_pairs', 0)} | {wall:.1f} | {fit:.2f} "
            f"| {score:.2f} | {found[0].get('links', 0):,} |"
        )
    base = statistics.median(r["seconds"]["fit"] for r in runs["before"])
    unlabelled = statistics.median(r["seconds"]["fit"] for r in runs["no labels"]) / base
    labelled = statistics.median(r["seconds"]["fit"] for r in runs["labels"]) / base
    lines += [
        "",
        f"Fit step, ratio to before: no labels {unlabelled:.3f}, {decided} labels {labelled:.3f}. "
        "Model (m, u, prior) and every link bit for bit the same before and with no labels: "
        f"{'yes' if same_model else 'NO'}; with labels the model differs: "
        f"{'yes' if states['labels'] != states['before'] else 'no'}.",
    ]
    print("\n".join(lines))
    if not args.no_record:
        text = RESULTS.read_text(encoding="utf-8")
        section = "\n".join([SECTION, "", *lines]).rstrip() + "\n"
        pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _: section + "\n", text)
        else:
            text = text.rstrip() + "\n\n" + section
        RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")
    return 0 if same_model else 1


if __name__ == "__main__":
    sys.exit(main())
