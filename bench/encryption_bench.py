"""What encryption at rest costs: intake rows/s and a full reconciliation, before and after, in one run.

``python -m bench.encryption_bench --base REV [--rows N] [--debtors N] [--rounds R] [--skip-intake]
[--skip-reconcile] [--no-record]`` checks REV (the commit before encryption at rest) out as a detached
git worktree under bench/out/, then runs the same work with that code ("before") and with this
checkout ("after"), alternating which goes first each round so that the shared machine's load falls
on both alike: ``contactfix submit`` of N generated bank rows (bench.intake_bench's generator and
child) into a throwaway PostgreSQL database, and ``contactfix reconcile --json`` (a full run: the
database starts empty) after taking in ``contactfix sample --debtors N`` (bench.reconcile_bench's
world). Each child runs with PYTHONPATH set to its code's root, so the same interpreter and packages
run both. The figures go under "## Encryption at rest (issue 14)" in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import machine_summary

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Encryption at rest (issue 14)"
PG_ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"
_DATA_KEY = base64.b64encode(secrets.token_bytes(32)).decode("ascii")

_INTAKE_CHILD = """
import json, sys, time
from contactfix.db.engine import make_engine
from contactfix.db.migrate import upgrade_database
from contactfix.intake.service import import_court_export, submit_bank_batch
url = sys.argv[1]
upgrade_database(url)
engine = make_engine(url)
started = time.perf_counter()
for kind, path in zip(sys.argv[2::2], sys.argv[3::2]):
    if kind == "bank":
        submit_bank_batch(engine, path, "bench bank")
    else:
        import_court_export(engine, path)
engine.dispose()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
_RECONCILE_CHILD = (
    "import sys; from contactfix.cli import main; sys.argv = ['contactfix', 'reconcile', '--json']; main()"
)


def _code_worktree(revision: str) -> Path:
    """REV checked out (detached) under bench/out/, made once and reused."""
    path = ROOT / "bench" / "out" / f"code-{revision[:12]}"
    if not (path / "contactfix").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), revision], check=True
        )
    return path


def _env(root: Path, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTFIX_")}
    env["PYTHONPATH"] = str(root)
    env["CONTACTFIX_DATA_KEY"] = _DATA_KEY
    if url is not None:
        env["CONTACTFIX_DATABASE_URL"] = url
    return env


def _check_roots(roots: dict[str, Path]) -> None:
    """Each child imports contactfix from its own root, not from the installed checkout."""
    for label, root in roots.items():
        done = subprocess.run(
            [sys.executable, "-c", "import contactfix; print(contactfix.__file__)"],
            env=_env(root), capture_output=True, text=True, check=True, cwd=root,
        )  # fmt: skip
        if not done.stdout.strip().startswith(str(root)):
            raise SystemExit(f"{label}: contactfix comes from {done.stdout.strip()}, not {root}")


def _intake_run(root: Path, path: Path) -> dict[str, float]:
    from contactfix.db import throwaway_database

    with throwaway_database(PG_ADMIN_URL, "contactfix_bench") as url:
        command = [sys.executable, "-m", "bench.intake_bench", "--child", url, str(path)]
        done = subprocess.run(command, env=_env(root), capture_output=True, text=True, cwd=root, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _reconcile_run(root: Path, folder: Path) -> dict[str, Any]:
    from contactfix.db import throwaway_database

    with throwaway_database(PG_ADMIN_URL, "contactfix_bench") as url:
        files = ["bank", str(folder / "bank.csv"), "court", str(folder / "court.csv")]
        subprocess.run(
            [sys.executable, "-c", _INTAKE_CHILD, url, *files],
            env=_env(root), capture_output=True, text=True, cwd=root, check=True,
        )  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _RECONCILE_CHILD],
            env=_env(root, url), capture_output=True, text=True, cwd=root,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"reconcile failed: {done.stderr[-800:]}")
    counts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    counts["wall"] = seconds
    return counts


def _order(round_number: int) -> list[str]:
    return ["before", "after"] if round_number % 2 == 0 else ["after", "before"]


def _ratio(after: list[float], before: list[float]) -> str:
    return f"{statistics.median(after) / statistics.median(before):.3f}"


def bench_intake(roots: dict[str, Path], rows: int, rounds: int) -> list[str]:
    from bench.intake_bench import generate

    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="encryption_bench_") as folder:
        path = Path(folder) / "bank.csv"
        generate(path, rows, 20240506, 20_000)
        for n in range(rounds):
            for label in _order(n):
                figures = _intake_run(roots[label], path)
                runs[label].append(figures)
                rate = figures["rows"] / figures["seconds"]
                print(f"intake round {n + 1} {label}: {rate:,.0f} rows/s", flush=True)
    speed = {k: [f["rows"] / f["seconds"] for f in v] for k, v in runs.items()}
    cpu = {
        k: [(f["main_cpu"] + f["workers_cpu"] + f["database_cpu"]) / f["rows"] * 1e6 for f in v]
        for k, v in runs.items()
    }
    lines = [
        f"**Intake**, {rows:,} generated bank rows into PostgreSQL, {rounds} rounds alternating:",
        "",
        "| code | rows/s per round | median rows/s | CPU µs/row, median: validate · main · database "
        "| CPU µs/row in all, median |",
        "|---|---|---:|---|---:|",
    ]
    for label in ("before", "after"):
        listed = " · ".join(f"{v:,.0f}" for v in speed[label])
        median_speed, median_cpu = statistics.median(speed[label]), statistics.median(cpu[label])
        parts = " · ".join(
            f"{statistics.median(f[part] / f['rows'] * 1e6 for f in runs[label]):.0f}"
            for part in ("workers_cpu", "main_cpu", "database_cpu")
        )
        lines.append(f"| {label} | {listed} | {median_speed:,.0f} | {parts} | {median_cpu:.0f} |")
    lines += [
        "",
        f"Rows/s after ÷ before (medians): **{_ratio(speed['after'], speed['before'])}**; CPU per row "
        f"after ÷ before: {_ratio(cpu['after'], cpu['before'])}.",
        "",
    ]
    return lines


def bench_reconcile(roots: dict[str, Path], debtors: int, rounds: int) -> list[str]:
    from bench.reconcile_bench import _world

    folder = _world(debtors, 7, 0.01)
    walls: dict[str, list[float]] = {"before": [], "after": []}
    steps: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for n in range(rounds):
        for label in _order(n):
            counts = _reconcile_run(roots[label], folder)
            walls[label].append(counts["wall"])
            steps[label].append(counts.get("seconds", {}))
            print(f"reconcile {debtors:,} round {n + 1} {label}: {counts['wall']:.1f} s", flush=True)
    lines = [
        f"**Full reconciliation**, `contactfix sample --debtors {debtors}` (seed 7; the 1 % held back by "
        f"bench.reconcile_bench left out) taken in, then `contactfix reconcile --json` (full: the database "
        f"starts empty), {rounds} round(s) alternating:",
        "",
        "| code | wall s per round | steps of the last round, s |",
        "|---|---|---|",
    ]
    for label in ("before", "after"):
        last = steps[label][-1]
        listed = " · ".join(f"{k} {v:.1f}" for k, v in last.items() if isinstance(v, int | float))
        lines.append(f"| {label} | {' · '.join(f'{w:.1f}' for w in walls[label])} | {listed} |")
    lines += ["", f"Wall after ÷ before (medians): **{_ratio(walls['after'], walls['before'])}**.", ""]
    return lines


def write_results(block: str, lines: list[str]) -> None:
    """Put ``lines`` under "### ``block``" in this benchmark's section (other blocks and sections kept)."""
    text = RESULTS.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    found = pattern.search(text)
    body = found.group(0) if found else SECTION + "\n"
    parts = re.split(r"^(### .*)$", body, flags=re.MULTILINE)
    intro, blocks = parts[0].strip(), dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    blocks[f"### {block}"] = "\n".join(lines).strip()
    section = "\n\n".join([intro, *(f"{h}\n\n{b}" for h, b in blocks.items())]) + "\n"
    text = pattern.sub(lambda _: section + "\n", text) if found else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit before encryption at rest")
    parser.add_argument("--after", default=None, help="a commit to measure instead of this checkout")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--debtors", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-reconcile", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    roots = {
        "before": _code_worktree(args.base),
        "after": ROOT if args.after is None else _code_worktree(args.after),
    }
    _check_roots(roots)
    machine = machine_summary()
    after = "" if args.after is None else f" --after {args.after[:12]}"
    if not args.skip_intake:
        command = (
            f"python -m bench.encryption_bench --base {args.base[:12]}{after} --rows {args.rows} "
            f"--rounds {args.rounds} --skip-reconcile"
        )
        lines = [f"`{command}` — {machine}.", "", *bench_intake(roots, args.rows, args.rounds)]
        print("\n".join(lines))
        if not args.no_record:
            write_results(f"Intake, {args.rows:,} rows", lines)
    if not args.skip_reconcile:
        command = (
            f"python -m bench.encryption_bench --base {args.base[:12]}{after} --debtors {args.debtors} "
            f"--rounds {args.rounds} --skip-intake"
        )
        lines = [f"`{command}` — {machine}.", "", *bench_reconcile(roots, args.debtors, args.rounds)]
        print("\n".join(lines))
        if not args.no_record:
            write_results(f"Full reconciliation, {args.debtors:,} debtors", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
