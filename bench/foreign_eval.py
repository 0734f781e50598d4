"""Run the real pipeline on a set from :mod:`bench.foreign_sets` through the CLI, and score its repairs.

``python -m bench.foreign_eval DIR [--database-url URL | --throwaway-postgres ADMIN_URL] [--json OUT]``
runs ``contactfix db upgrade``, ``submit DIR/bank.csv --org 外部银行``, ``import-court DIR/court.csv``,
``reconcile --full`` and ``export contacts --status repaired`` as subprocesses (the commands banks and
operators run), then scores the export against ``DIR/answers.csv``:

- *repairable*: debtors whose current number is in one of their own court records;
- *repaired current*: repaired debtors whose best phone (lowest rank) is a number they use today;
- *recall* = repaired current ∩ repairable / repairable;
- *precision* = repaired current / repaired with a phone;
- *newest filing current*: debtors whose newest own filing listing a number lists a current one, and
  the recall among them (a repair that trusts the newest filing gets these);
- *bank lost repairs*: repairs whose best phone is the number the bank lost (must be 0); *bank batch
  repairs*: best phone written anywhere in the bank's batch (also its 紧急联系人电话, which intake ignores).

``--export FILE`` scores an export already written, without running anything. Without a database URL
the run uses a fresh SQLite file in ``DIR/eval/``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import csv
import itertools
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from contactfix.privacy.keyring import DataKey, write_key_file

__all__ = [
    "BANK_ORG",
    "diagnose_unrepaired",
    "load_answers",
    "newest_filing_current",
    "read_export",
    "run_pipeline",
    "score",
]

BANK_ORG = "外部银行"
_MASKED = re.compile(r"[0-9*+X]{4,}")


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run ``contactfix ARGS``; its stdout, or SystemExit naming the command and its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "contactfix", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"contactfix {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def _last_json(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}


def _issues(receipt: dict[str, object]) -> dict[str, int]:
    """The receipt's warnings by field and reason, numbers blanked: what the intake objected to."""
    counts: Counter[str] = Counter()
    warnings = receipt.get("warnings") or []
    assert isinstance(warnings, list)
    for issue in warnings:
        counts[f"{issue.get('field')}: {_MASKED.sub('…', str(issue.get('reason')))}"] += 1
    return dict(counts.most_common())


def run_pipeline(
    folder: Path, database_url: str, work: Path, settings: dict[str, str] | None = None
) -> dict[str, object]:
    """Take the set in, reconcile, export the repaired debtors to ``work/export.csv``; what each step said.

    ``settings`` (``carrier_repair_enabled`` → ``false``) become ``CONTACTFIX_*`` environment variables.
    """
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_")}
    env.update({f"CONTACTFIX_{key.upper()}": value for key, value in (settings or {}).items()})
    env.update(CONTACTFIX_DATABASE_URL=database_url, CONTACTFIX_OUTBOX_PATH=str(work / "outbox.jsonl"))
    # Encryption at rest: a database other than the embedded SQLite needs the data key from outside
    # (the CONTACTFIX_ variables of this process were left out above): a key file in the work folder,
    # made on the first run, serves every step.
    key_file = work / "data.key"
    if not key_file.exists():
        write_key_file(key_file, DataKey(secrets.token_bytes(32)), [], None)
    env["CONTACTFIX_DATA_KEY_FILE"] = str(key_file)
    steps: dict[str, object] = {}
    started = time.perf_counter()
    _cli(["db", "upgrade"], env, work)
    bank = _last_json(_cli(["submit", str(folder / "bank.csv"), "--org", BANK_ORG, "--json"], env, work))
    court = _last_json(_cli(["import-court", str(folder / "court.csv"), "--json"], env, work))
    for name, receipt in (("bank", bank), ("court", court)):
        steps[name] = {k: receipt.get(k) for k in ("rows", "accepted", "rejected")} | {
            "issues": _issues(receipt)
        }
    intake_seconds = time.perf_counter() - started
    reconcile = _last_json(_cli(["reconcile", "--full", "--json"], env, work))
    reconcile_seconds = time.perf_counter() - started - intake_seconds
    _cli(
        ["export", "contacts", "--out", str(work / "export.csv"), "--org", BANK_ORG, "--status", "repaired"],
        env,
        work,
    )
    _cli(["export", "contacts", "--out", str(work / "export_all.csv"), "--org", BANK_ORG], env, work)
    steps["reconcile"] = reconcile
    steps["seconds"] = {"intake": round(intake_seconds, 1), "reconcile": round(reconcile_seconds, 1)}
    return steps


def load_answers(folder: Path) -> dict[str, dict[str, dict[str, str]]]:
    """answers.csv as reference → phone → its row."""
    answers: dict[str, dict[str, dict[str, str]]] = {}
    with (folder / "answers.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            answers.setdefault(row["reference"], {})[row["phone"]] = row
    return answers


def read_export(path: Path, *, confidence: bool = False) -> dict[str, tuple[str, list[str]]]:
    """The export as reference → (status, phones best first); ``confidence``: "phone@confidence"."""
    found: dict[str, tuple[str, list[str]]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: (r["reference"], int(r["rank"] or 0)))
    for row in rows:
        _, phones = found.setdefault(row["reference"], (row["status"], []))
        if row["channel"] == "phone" and row["value"]:
            phones.append(f"{row['value']}@{row['confidence']}" if confidence else row["value"])
    return found


def diagnose_unrepaired(folder: Path, export_all: Path) -> dict[str, object]:
    """For repairable debtors left unrepaired: what their best-ranked phone is, and how sure of it."""
    answers = load_answers(folder)
    top_roles: Counter[str] = Counter()
    current_listed = 0
    confidences: list[float] = []
    for ref, (status, ranked) in read_export(export_all, confidence=True).items():
        numbers = answers.get(ref, {})
        if status == "repaired" or not any(a["current"] == a["in_court"] == "1" for a in numbers.values()):
            continue
        phones = [item.rsplit("@", 1) for item in ranked]
        if not phones:
            top_roles["(no phone)"] += 1
            continue
        top_roles[numbers.get(phones[0][0], {}).get("role", "(not in the set)")] += 1
        current_listed += any(numbers.get(p, {}).get("current") == "1" for p, _ in phones)
        if numbers.get(phones[0][0], {}).get("current") == "1":
            confidences.append(float(phones[0][1] or 0))
    confidences.sort()
    quantiles = {f"p{q}": confidences[len(confidences) * q // 100] for q in (10, 50, 90) if confidences}
    return {
        "unrepaired_repairable": sum(top_roles.values()),
        "current_number_ranked": current_listed,
        "best_phone_roles": dict(top_roles.most_common()),
        "confidence_when_best_is_current": quantiles,
    }


def newest_filing_current(folder: Path, answers: dict[str, dict[str, dict[str, str]]]) -> set[str]:
    """Debtors whose newest own filing that lists a number lists a current one: the easy repairs."""
    newest: dict[str, tuple[str, list[str]]] = {}
    with (folder / "court_rows.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            phones = [p for p in row["phones"].split(";") if p]
            if (
                row["party_kind"] == "self"
                and phones
                and row["filed"] >= newest.get(row["party_of"], ("", []))[0]
            ):
                newest[row["party_of"]] = (row["filed"], phones)
    return {
        ref
        for ref, (_, phones) in newest.items()
        if any(answers[ref].get(p, {}).get("current") == "1" for p in phones)
    }


def score(folder: Path, export: Path) -> dict[str, object]:
    """What the export's repairs are worth against the set's answers (see the module's docstring)."""
    answers = load_answers(folder)
    repaired = {ref: phones for ref, (status, phones) in read_export(export).items() if status == "repaired"}
    easy = newest_filing_current(folder, answers)
    repairable = {
        ref
        for ref, numbers in answers.items()
        if any(a["current"] == "1" and a["in_court"] == "1" for a in numbers.values())
    }
    top_roles: Counter[str] = Counter()
    any_current = lost_top = bank_top = bank_any = current_top = current_top_repairable = current_top_easy = 0
    for ref, phones in repaired.items():
        numbers = answers.get(ref, {})
        if not phones:
            top_roles["(no phone)"] += 1
            continue
        top = numbers.get(phones[0])
        top_roles[top["role"] if top else "(not in the set)"] += 1
        if top is not None and top["current"] == "1":
            current_top += 1
            current_top_repairable += ref in repairable
            current_top_easy += ref in easy
        any_current += any(numbers.get(p, {}).get("current") == "1" for p in phones)
        lost_top += bool(top and top["role"] == "bank_lost")
        bank_top += bool(top and top["in_bank"] == "1")
        bank_any += any(numbers.get(p, {}).get("in_bank") == "1" for p in phones)
    with_phone = sum(1 for phones in repaired.values() if phones)
    return {
        "debtors": len(answers),
        "repairable": len(repairable),
        "repaired": len(repaired),
        "repaired_with_phone": with_phone,
        "repaired_current": current_top,
        "recall_of_repairable": round(current_top_repairable / len(repairable), 4) if repairable else None,
        "precision": round(current_top / with_phone, 4) if with_phone else None,
        "newest_filing_current": len(easy),
        "recall_of_newest_filing_current": round(current_top_easy / len(easy), 4) if easy else None,
        "repaired_any_phone_current": any_current,
        "bank_lost_repairs": lost_top,
        "bank_batch_repairs": bank_top,
        "bank_number_listed": bank_any,
        "best_phone_roles": dict(top_roles.most_common()),
    }


CONFIDENCE_BANDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)


def precision_by_confidence(folder: Path, export: Path) -> list[dict[str, object]]:
    """Repaired debtors by the confidence of their best phone: how many, and the share that is current."""
    answers = load_answers(folder)
    bands = [[0, 0] for _ in CONFIDENCE_BANDS[1:]]  # [repaired, best phone current]
    for ref, (status, ranked) in read_export(export, confidence=True).items():
        if status != "repaired" or not ranked:
            continue
        phone, confidence = ranked[0].rsplit("@", 1)
        band = bands[min(bisect.bisect_right(CONFIDENCE_BANDS, float(confidence or 0)), len(bands)) - 1]
        band[0] += 1
        band[1] += answers.get(ref, {}).get(phone, {}).get("current") == "1"
    return [
        {
            "confidence": f"{low:.2f}–{high:.2f}",
            "repaired": n,
            "precision": round(right / n, 4) if n else None,
        }
        for (low, high), (n, right) in zip(itertools.pairwise(CONFIDENCE_BANDS), bands, strict=True)
    ]


def _table(name: str, result: dict[str, object]) -> str:
    s = result["score"]
    assert isinstance(s, dict)
    rows = [
        ("debtors", s["debtors"]), ("repairable (current number in own court record)", s["repairable"]),
        ("repaired", s["repaired"]), ("repaired with a phone", s["repaired_with_phone"]),
        ("best phone is current", s["repaired_current"]), ("recall of repairable", s["recall_of_repairable"]),
        ("precision", s["precision"]),
        ("newest own filing with a number shows a current one", s["newest_filing_current"]),
        ("recall of those", s["recall_of_newest_filing_current"]),
        ("any exported phone current", s["repaired_any_phone_current"]),
        ("best phone is the bank's lost number (must be 0)", s["bank_lost_repairs"]),
        ("best phone written in the bank's batch", s["bank_batch_repairs"]),
        ("bank's number listed anywhere in a repair", s["bank_number_listed"]),
        ("best phone roles", ", ".join(f"{k} {v}" for k, v in s["best_phone_roles"].items()) or "-"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    return "\n".join([f"== {name}", *(f"{label:<{width}}  {value}" for label, value in rows)])


@contextlib.contextmanager
def _database(args: argparse.Namespace, work: Path) -> Iterator[str]:
    if args.throwaway_postgres:
        from contactfix.db.engine import throwaway_database

        with throwaway_database(args.throwaway_postgres, prefix="foreign_eval") as url:
            yield url
        return
    if args.database_url:
        yield args.database_url
        return
    path = work / "contactfix.sqlite3"
    path.unlink(missing_ok=True)
    yield f"sqlite:///{path}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a set written by bench.foreign_sets")
    parser.add_argument("--database-url", help="an empty database (default: a fresh SQLite file in DIR/eval)")
    parser.add_argument(
        "--throwaway-postgres", metavar="ADMIN_URL", help="create and drop a PostgreSQL database"
    )
    parser.add_argument("--export", type=Path, help="score this export; run nothing")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="KEY=VALUE", help="a contactfix setting for the run"
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder.resolve()
    work = folder / "eval"
    result: dict[str, object] = {"set": folder.name}
    if args.export is None:
        with _database(args, work) as url:
            settings = dict(item.split("=", 1) for item in args.setting)
            result["pipeline"] = run_pipeline(folder, url, work, settings) | {"settings": settings}
        export = work / "export.csv"
    else:
        export = args.export
    result["score"] = score(folder, export)
    result["by_confidence"] = precision_by_confidence(folder, export)
    if (export.parent / "export_all.csv").exists():
        result["unrepaired"] = diagnose_unrepaired(folder, export.parent / "export_all.csv")
    print(_table(folder.name, result))
    bands = result["by_confidence"]
    assert isinstance(bands, list)
    print(
        "best phone's confidence → repaired, precision: "
        + "; ".join(f"{b['confidence']} → {b['repaired']}, {b['precision']}" for b in bands if b["repaired"])
    )
    if "unrepaired" in result:
        print(f"unrepaired but repairable: {json.dumps(result['unrepaired'], ensure_ascii=False)}")
    pipeline = result.get("pipeline")
    if isinstance(pipeline, dict):
        for name in ("bank", "court"):
            print(f"{name}: {json.dumps(pipeline[name], ensure_ascii=False)}")
        print(f"reconcile: {json.dumps(pipeline['reconcile'], ensure_ascii=False)}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
