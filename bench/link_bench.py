"""Linkage benchmark: ``contactfix link`` against Splink (DuckDB) on the same data, in the same run.

Each run is its own process with a timeout: whole-process wall time, and peak RSS of the process (its own
``wait4`` rusage, the per-child form of ``RUSAGE_CHILDREN``) or of its process tree (psutil polling),
whichever is larger. Quality is precision / recall / F1 against the truth at the threshold (0.5), best F1
over thresholds, and blocking recall: the share of true pairs among all candidate pairs, from a second run
at ``--threshold 0`` (every candidate pair). The machine is shared and noisy, so ratios ours ÷ Splink
within one run are the figures to compare. A failed run is reported with its stderr tail.

``python -m bench.link_bench [--quick] [--only febrl4,hard,...] [--tools ours,splink,splink-docs]``
prints a table and rewrites the ``## Linkage`` section of ``bench/RESULTS.md`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets import DATASET_NAMES, DatasetUnavailable, LinkageDataset, Sizes, load, read_truth
from bench.machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
RECALL_RUN_MAX_RECORDS = 200_000  # larger sets skip the threshold-0 run unless --recall-always
TOOLS = ("ours", "splink", "splink-docs")
TOOL_LABELS = {
    "ours": "contactfix",
    "splink": "Splink, generic model",
    "splink-docs": "Splink, docs' FEBRL model",
}
ENGINE_CANDIDATES = re.compile(r"candidate pairs\s+([0-9][0-9,]*)")
PAIR_STAGES = (
    "block",
    "compare",
    "estimate",
    "score",
)  # the stages of `contactfix link -v` that handle pairs
STAGE_SECONDS = re.compile(r"^\W*(" + "|".join(PAIR_STAGES) + r")\s*│\s*([0-9.]+)", re.MULTILINE)
PAIRS_PER_SECOND = re.compile(
    r"([0-9][0-9,_.]*)\s*([kKmM]?)\s*(?:candidate\s+)?pairs?\s*/\s*s", re.IGNORECASE
)


# --- measuring one process ----------------------------------------------------------------------------


@dataclass
class Measured:
    """One finished (or killed) process: exit code, wall seconds, peak RSS in MiB, its output."""

    command: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    timed_out: bool
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        why = "timed out" if self.timed_out else f"exit {self.returncode}"
        tail = " | ".join((self.stderr or self.stdout).strip().splitlines()[-4:])
        return f"{why}: {tail}"[:400]


def _high_water(pid: int) -> int:
    """VmHWM of one process: the peak resident size of its own memory since its last exec, in bytes."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_peak(pid: int) -> int:
    """Sum of the high-water marks of ``pid`` and its descendants (exact for a single process).

    Not ``wait4``'s ru_maxrss: the kernel carries the pre-exec image into it, so every child of this
    (pandas-sized) bench process would be floored at the bench's own ~200 MB.
    """
    try:
        import psutil
    except ImportError:
        return _high_water(pid)
    try:
        parent = psutil.Process(pid)
        pids = [pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.Error:
        return 0
    return sum(_high_water(p) for p in pids)


def run_measured(command: list[str], timeout: float, log_stem: Path) -> Measured:
    """Run ``command`` in its own session; kill its process group if it outlives ``timeout`` seconds."""
    log_stem.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, start_new_session=True)
        peak, timed_out = 0, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - started
            if elapsed > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            peak = max(peak, _tree_peak(proc.pid))
            time.sleep(0.02 if elapsed < 2 else 0.1)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped above; stop Popen from waiting again
    del usage  # VmHWM only grows, so the last poll (at most 0.1 s before the end) holds the peak
    return Measured(
        command=command,
        returncode=proc.returncode,
        wall_s=wall,
        peak_rss_mb=peak / 2**20,
        timed_out=timed_out,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


# --- the contenders -----------------------------------------------------------------------------------


@functools.cache
def _link_help(exe: Path) -> tuple[int, str]:
    try:
        probe = subprocess.run(
            [str(exe), "link", "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
    except OSError as exc:
        return -1, str(exc)
    return probe.returncode, probe.stdout


def ours_unavailable(exe: Path) -> str | None:
    """Why ``contactfix link`` cannot run yet, or None when ``contactfix link --help`` works."""
    if not exe.exists():
        return f"{exe} does not exist"
    _link_help.cache_clear()  # it may have landed since the last dataset
    if _link_help(exe)[0] != 0:
        return "`contactfix link` is not available yet (`contactfix link --help` failed)"
    return None


def ours_reports_stages(exe: Path) -> bool:
    """Whether ``contactfix link`` has ``--verbose`` (stage timings and candidate pairs on stderr)."""
    returncode, help_text = _link_help(exe)
    return returncode == 0 and "--verbose" in help_text


def command_for(
    tool: str, dataset: LinkageDataset, out: Path, threshold: float, exe: Path
) -> list[str] | None:
    """The command line for ``tool`` on ``dataset``; None when the tool does not apply to it."""
    inputs = [dataset.left, *([dataset.right] if dataset.right else [])]
    common = ["--out", str(out), "--threshold", repr(threshold)]
    if tool == "ours":
        verbose = ["--verbose"] if ours_reports_stages(exe) else []
        return [str(exe), "link", *map(str, inputs), *common, *verbose]
    peer = [sys.executable, "-m", "bench.peers.splink_link"]
    if tool == "splink":
        return [*peer, *map(str, inputs), *common]
    if tool == "splink-docs" and dataset.raw:
        raw = [dataset.raw_left, *([dataset.raw_right] if dataset.raw_right else [])]
        model = "febrl4-docs" if dataset.kind == "link" else "febrl3-docs"
        return [*peer, *map(str, raw), *common, "--model", model]
    return None


# --- scoring ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Everything measured for one tool on one dataset."""

    dataset: str
    tool: str
    status: str = "ok"  # ok / failed: ... / skipped: ...
    command: str = ""
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    predicted: int | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    best_f1: float | None = None
    best_threshold: float | None = None
    blocking_recall: float | None = None
    candidates: int | None = None
    pairs_per_s: float | None = None
    engine_candidates: int | None = None  # what ours says it generated (`-v`), to compare with `candidates`
    notes: list[str] = field(default_factory=list)


def read_pairs(path: Path, dedupe: bool) -> pd.DataFrame:
    """Predicted pairs as (key, probability), one row per pair (a pair given twice keeps its best)."""
    frame = pd.read_csv(path, dtype={"left_id": str, "right_id": str}, keep_default_na=False)
    left, right = frame["left_id"].astype(str), frame["right_id"].astype(str)
    if dedupe:
        left, right = left.where(left < right, right), right.where(left < right, left)
    keys = left + "\x1f" + right
    pairs = pd.DataFrame({"key": keys, "probability": pd.to_numeric(frame["probability"], errors="coerce")})
    return pairs.sort_values("probability", ascending=False).drop_duplicates("key")


def truth_keys(dataset: LinkageDataset) -> set[str]:
    return {f"{a}\x1f{b}" for a, b in read_truth(dataset)}


def score(outcome: Outcome, pairs: pd.DataFrame, truth: set[str], threshold: float) -> None:
    kept = pairs[pairs["probability"] >= threshold]
    hits = int(kept["key"].isin(truth).sum())
    outcome.predicted = len(kept)
    outcome.precision = hits / len(kept) if len(kept) else 0.0
    outcome.recall = hits / len(truth) if truth else 0.0
    total = outcome.precision + outcome.recall
    outcome.f1 = 2 * outcome.precision * outcome.recall / total if total else 0.0


def score_candidates(outcome: Outcome, candidates: pd.DataFrame, truth: set[str]) -> None:
    """Blocking recall and the best F1 over thresholds, from every candidate pair with its probability."""
    is_true = candidates["key"].isin(truth).to_numpy()
    outcome.candidates = len(candidates)
    outcome.blocking_recall = float(is_true.sum()) / len(truth) if truth else None
    if not len(candidates) or not truth:
        return
    probabilities = candidates["probability"].to_numpy()
    hits = np.cumsum(is_true)
    rank = np.arange(1, len(candidates) + 1)
    last_of_tie = np.r_[probabilities[1:] != probabilities[:-1], True]  # a threshold keeps a whole tie
    f1 = 2 * hits / (rank + len(truth))
    f1 = np.where(last_of_tie, f1, -1.0)
    best = int(np.argmax(f1))
    outcome.best_f1, outcome.best_threshold = float(f1[best]), float(probabilities[best])


def engine_candidates(text: str) -> int | None:
    """The candidate pair count ``contactfix link -v`` prints, if it does."""
    found = ENGINE_CANDIDATES.findall(text)
    return int(found[-1].replace(",", "")) if found else None


def pairs_per_second(text: str) -> float | None:
    """Candidate pairs per second as ours reports it: an explicit "N pairs/s", or else the candidate pairs
    of ``-v`` divided by the seconds of its pair stages (block, compare, estimate, score)."""
    found = PAIRS_PER_SECOND.findall(text)
    if not found:
        candidates = engine_candidates(text)
        stages = {stage: float(seconds) for stage, seconds in STAGE_SECONDS.findall(text)}
        if candidates is None or set(stages) != set(PAIR_STAGES) or sum(stages.values()) <= 0:
            return None
        return candidates / sum(stages.values())
    number, scale = found[-1]
    try:
        value = float(number.replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value * {"k": 1e3, "m": 1e6}.get(scale.lower(), 1.0)


# --- running a dataset --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to run and how."""

    tools: tuple[str, ...]
    threshold: float
    timeout: float
    recall_runs: bool
    recall_always: bool
    runs_dir: Path
    contactfix: Path


def bench_tool(tool: str, dataset: LinkageDataset, truth: set[str], plan: Plan) -> Outcome:
    outcome = Outcome(dataset.name, tool)
    run_dir = plan.runs_dir / dataset.directory.name
    run_dir.mkdir(parents=True, exist_ok=True)
    pairs_path = run_dir / f"{tool}.pairs.csv"
    command = command_for(tool, dataset, pairs_path, plan.threshold, plan.contactfix)
    if command is None:
        outcome.status = "skipped: not applicable"
        return outcome
    outcome.command = shlex.join(os.path.relpath(c, ROOT) if c.startswith(str(ROOT)) else c for c in command)
    print(f"  {TOOL_LABELS[tool]} ...", end="", flush=True)
    measured = run_measured(command, plan.timeout, run_dir / tool)
    print(
        f" {measured.wall_s:.1f} s, {measured.peak_rss_mb:.0f} MiB{'' if measured.ok else ' FAILED'}",
        flush=True,
    )
    if not measured.ok:
        outcome.status = f"failed: {measured.failure()}"
        return outcome
    outcome.wall_s, outcome.peak_rss_mb = measured.wall_s, measured.peak_rss_mb
    output = measured.stdout + "\n" + measured.stderr
    outcome.pairs_per_s, outcome.engine_candidates = pairs_per_second(output), engine_candidates(output)
    try:
        score(outcome, read_pairs(pairs_path, dataset.kind == "dedupe"), truth, plan.threshold)
    except (OSError, KeyError, ValueError, pd.errors.ParserError) as exc:
        outcome.status = f"failed: unreadable output {pairs_path.name}: {exc}"
        return outcome
    if plan.recall_runs and (plan.recall_always or dataset.records <= RECALL_RUN_MAX_RECORDS):
        candidates_path = run_dir / f"{tool}.candidates.csv"
        zero = command_for(tool, dataset, candidates_path, 0.0, plan.contactfix)
        assert zero is not None
        print(f"  {TOOL_LABELS[tool]} at threshold 0 ...", end="", flush=True)
        candidates_run = run_measured(zero, plan.timeout, run_dir / f"{tool}.candidates")
        print(f" {candidates_run.wall_s:.1f} s", flush=True)
        if candidates_run.ok:
            score_candidates(outcome, read_pairs(candidates_path, dataset.kind == "dedupe"), truth)
            candidates_path.unlink(missing_ok=True)  # can be large
            generated = engine_candidates(candidates_run.stdout + "\n" + candidates_run.stderr)
            if generated and outcome.candidates is not None and outcome.candidates < generated:
                outcome.notes.append(
                    f"threshold 0 wrote {outcome.candidates:,} of the {generated:,} candidate pairs it "
                    "reports, so blocking recall is a lower bound"
                )
        else:
            outcome.notes.append(f"threshold-0 run failed: {candidates_run.failure()}")
    return outcome


def bench_dataset(
    name: str, sizes: Sizes, plan: Plan, data_dir: Path
) -> tuple[LinkageDataset | None, list[Outcome]]:
    print(f"{name}:", flush=True)
    try:
        dataset = load(name, data_dir, sizes)
    except DatasetUnavailable as exc:
        print(f"  skipped: {exc}")
        return None, [Outcome(name, tool, status=f"skipped: {exc}") for tool in plan.tools]
    except Exception as exc:  # a broken generator must not stop the other datasets
        print(f"  dataset failed: {exc!r}")
        return None, [Outcome(name, tool, status=f"failed: dataset: {exc!r}"[:400]) for tool in plan.tools]
    truth = truth_keys(dataset)
    ours_missing = ours_unavailable(plan.contactfix) if "ours" in plan.tools else None
    outcomes = []
    for tool in plan.tools:
        if tool == "ours" and ours_missing:
            print(f"  contactfix skipped: {ours_missing}")
            outcomes.append(Outcome(name, tool, status=f"skipped: {ours_missing}"))
            continue
        if tool == "splink-docs" and not dataset.raw:
            continue
        outcomes.append(bench_tool(tool, dataset, truth, plan))
    return dataset, outcomes


# --- reporting ----------------------------------------------------------------------------------------


def machine() -> str:
    cpu = cpu_model()
    try:
        kib = int(
            next(
                ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")
            ).split()[1]
        )
        ram = f"{kib / 2**20:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        ram = "RAM unknown"
    versions = []
    for package in ("splink", "duckdb", "contactfix"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    load1 = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {ram}, load {load1:.1f} at start; "
        f"Python {platform.python_version()}, " + ", ".join(versions)
    )


def _fmt(value: float | int | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def table(datasets: dict[str, LinkageDataset], outcomes: list[Outcome], threshold: float) -> list[str]:
    lines = [
        f"| dataset | tool | P@{threshold:g} | R@{threshold:g} | F1@{threshold:g} | best F1 (at p) "
        "| blocking recall | candidates | wall s | peak RSS MiB | pairs/s | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        ds = datasets.get(o.dataset)
        label = f"{o.dataset} ({ds.records:,} rec, {ds.true_pairs:,} true)" if ds else o.dataset
        best = f"{o.best_f1:.4f} ({o.best_threshold:.2g})" if o.best_f1 is not None else "–"
        status = o.status if o.status == "ok" else o.status.replace("|", "/")
        if o.notes:
            status += "; " + "; ".join(n.replace("|", "/") for n in o.notes)
        lines.append(
            f"| {label} | {TOOL_LABELS[o.tool]} | {_fmt(o.precision, '.4f')} | {_fmt(o.recall, '.4f')} "
            f"| {_fmt(o.f1, '.4f')} | {best} | {_fmt(o.blocking_recall, '.4f')} | {_fmt(o.candidates, ',')} "
            f"| {_fmt(o.wall_s, '.1f')} | {_fmt(o.peak_rss_mb, ',.0f')} | {_fmt(o.pairs_per_s, ',.0f')} "
            f"| {status} |"
        )
    return lines


def ratios(outcomes: list[Outcome]) -> list[str]:
    by_key = {(o.dataset, o.tool): o for o in outcomes if o.status == "ok"}
    lines = [
        "| dataset | versus | wall ours ÷ peer | peak RSS ours ÷ peer | F1 ours − peer |",
        "|---|---|---|---|---|",
    ]
    for (name, tool), ours in by_key.items():
        if tool != "ours":
            continue
        for peer_tool in ("splink", "splink-docs"):
            peer = by_key.get((name, peer_tool))
            if not peer or not (ours.wall_s and peer.wall_s and ours.peak_rss_mb and peer.peak_rss_mb):
                continue
            f1 = (ours.f1 or 0) - (peer.f1 or 0)
            lines.append(
                f"| {name} | {TOOL_LABELS[peer_tool]} | {ours.wall_s / peer.wall_s:.2f} "
                f"| {ours.peak_rss_mb / peer.peak_rss_mb:.2f} | {f1:+.4f} |"
            )
    return (
        lines
        if len(lines) > 2
        else ["No ratios: contactfix and Splink did not both complete on any dataset."]
    )


def targets(outcomes: list[Outcome], datasets: dict[str, LinkageDataset]) -> list[str]:
    ours = {o.dataset: o for o in outcomes if o.tool == "ours" and o.status == "ok"}
    lines = []
    hard = ours.get("hard")
    lines.append(
        "- hard set, our blocking recall ≥ 0.995: "
        + ("not measured" if not hard or hard.blocking_recall is None else f"{hard.blocking_recall:.4f}")
    )
    big = ours.get("million")
    size = (
        f"{datasets['million'].left_rows:,} × {datasets['million'].right_rows:,}"
        if "million" in datasets
        else "?"
    )
    lines.append(
        f"- million ({size}), ours < 100 s and < 3.5 GB (targets for 1,000,000 × 1,000,000): "
        + ("not measured" if not big else f"{big.wall_s or 0:.1f} s, {(big.peak_rss_mb or 0) / 1024:.2f} GiB")
    )
    return lines


def write_results(section: list[str], path: Path = RESULTS) -> None:
    """Replace the ``## Linkage`` section of ``path`` (or append it), leaving the other sections alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    body = "\n".join(section).rstrip() + "\n"
    match = re.search(r"^## Linkage\n.*?(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    if match:
        text = text[: match.start()] + body + ("\n" if match.end() < len(text) else "") + text[match.end() :]
    else:
        text = text.rstrip() + "\n\n" + body
    path.write_text(text, encoding="utf-8")


def report(
    argv: list[str], datasets: dict[str, LinkageDataset], outcomes: list[Outcome], threshold: float
) -> list[str]:
    described = [f"- {d.name}: {d.description}" for d in datasets.values()]
    return [
        "## Linkage",
        "",
        f"Measured {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} on {machine()}.",
        f"Command: `{' '.join(['.venv/bin/python -m bench.link_bench', *map(shlex.quote, argv)])}`",
        "",
        "Wall time is the whole process (start-up, reading, training, writing); peak RSS is the "
        "process's own. Blocking recall and best F1 come from a second run at threshold 0 (every "
        "candidate pair); `candidates` counts those pairs. The machine is shared: compare the ratios, "
        "measured in the same run. Splink runs its documented sequence in one process: prior from "
        "deterministic rules, u from random pairs (100 per input record, 1e6 to 1e7; this dominates its "
        "time on small inputs), m by EM, then predict. Its docs' FEBRL model is the febrl4 example's "
        "'detailed' model on febrl4 and the febrl3 example's model on febrl1-3, on FEBRL's own columns.",
        "",
        *described,
        "",
        *table(datasets, outcomes, threshold),
        "",
        "Ratios (same run):",
        "",
        *ratios(outcomes),
        "",
        "Targets:",
        "",
        *targets(outcomes, datasets),
    ]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sets (china 2k, hard 10k, million 20k); not recorded"
    )
    parser.add_argument("--only", default=",".join(DATASET_NAMES), help="comma-separated datasets")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: ours, splink, splink-docs")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--no-recall", action="store_true", help="skip the threshold-0 runs")
    parser.add_argument("--recall-always", action="store_true", help="threshold-0 runs on large sets too")
    parser.add_argument("--china-debtors", type=int)
    parser.add_argument("--hard-records", type=int)
    parser.add_argument("--million-people", type=int)
    parser.add_argument(
        "--contactfix",
        type=Path,
        default=Path(sys.executable).parent / "contactfix",
        help="the contactfix executable to measure (default: the one next to this Python)",
    )
    parser.add_argument("--data-dir", type=Path, default=OUT / "data")
    parser.add_argument("--runs-dir", type=Path, default=OUT / "runs")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the ## Linkage section goes")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--write", action="store_true", help="record the figures even with --quick")
    args = parser.parse_args(argv)
    base = Sizes.quick() if args.quick else Sizes()
    sizes = Sizes(
        china_debtors=args.china_debtors or base.china_debtors,
        hard_records=args.hard_records or base.hard_records,
        million_people=args.million_people or base.million_people,
    )
    tools = tuple(t.strip() for t in args.tools.split(",") if t.strip())
    unknown = [t for t in tools if t not in TOOLS] + [
        n for n in args.only.split(",") if n.strip() not in DATASET_NAMES
    ]
    if unknown:
        parser.error(f"unknown tool or dataset: {', '.join(unknown)}")
    plan = Plan(
        tools,
        args.threshold,
        args.timeout,
        not args.no_recall,
        args.recall_always,
        args.runs_dir,
        args.contactfix,
    )
    datasets: dict[str, LinkageDataset] = {}
    outcomes: list[Outcome] = []
    for name in (n.strip() for n in args.only.split(",")):
        dataset, found = bench_dataset(name, sizes, plan, args.data_dir)
        if dataset:
            datasets[name] = dataset
        outcomes += found
    section = report(argv, datasets, outcomes, args.threshold)
    print("\n".join(section))
    if args.write or not (args.quick or args.no_write):
        write_results(section, args.results)
        print(f"\nwrote the ## Linkage section of {args.results}")
    return 0 if all(not o.status.startswith("failed") for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
