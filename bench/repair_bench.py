"""Repair accuracy on sample data, and the calibration of the ranking weights.

``python -m bench.repair_bench [--debtors 5000] [--calibrate-seed 11] [--eval-seed 12] [--resolve]``

For each seed: generate the sample, take it in (SQLite), then rank every debtor's contacts

* on known identities (``oracle``): every record truth.csv gives the debtor's person, membership 1 —
  ranking measured apart from resolution's mistakes;
* with ``--resolve``, on the identities :mod:`contactfix.pipeline.resolve` finds, through
  :func:`repair_contacts` as ``contactfix reconcile`` runs it (``resolved``).

The calibration seed fits the logistic weights (label: the contact is the person's current phone, or
current address) and prints them; both seeds are then scored with the weights in
:mod:`contactfix.pipeline.confidence` and with the fresh fit. The metrics (targets in the issue):

* top-1: among debtors whose current phone appears in any of their true records, the share whose
  top-ranked phone is it (≥ 95%);
* repaired precision: among debtors marked repaired, the share whose top phone is right (≥ 97%).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.repair_truth import Prepared, findable, is_current, oracle_observations, prepare, shared_by_persons
from contactfix.db.engine import make_engine
from contactfix.db.identity_models import ContactRanking
from contactfix.db.models import Debtor
from contactfix.pipeline.confidence import Weights, feature_vector
from contactfix.pipeline.observations import debtor_observations
from contactfix.pipeline.ranking import (
    Observation,
    RankedContact,
    describe_contacts,
    rank_contacts,
    repairing_contact,
)
from contactfix.pipeline.repair import DEFAULT_CONFIDENCE_THRESHOLD, repair_contacts
from contactfix.pipeline.shared_phones import find_shared_phones
from contactfix.sample import AS_OF

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.93, 0.94, 0.95, 0.96, 0.97)


def training_rows(
    prepared: Prepared, observed: Mapping[int, list[Observation]], shared: Mapping[str, int], as_of: dt.date
) -> dict[str, tuple[list[tuple[float, ...]], list[int]]]:
    """channel → (feature vectors, labels) of every rankable contact (not shared, not invalid)."""
    truth = prepared.truth
    data: dict[str, tuple[list[tuple[float, ...]], list[int]]] = {"phone": ([], []), "address": ([], [])}
    for debtor_id, observations in observed.items():
        person = truth.person_of_debtor[debtor_id]
        for channel, value, features, _ in describe_contacts(observations, as_of=as_of, shared=shared):
            if features.shared or not features.valid or channel not in data:
                continue
            right = is_current(truth, person, channel, value)
            data[channel][0].append(feature_vector(features))
            data[channel][1].append(int(right))
    return data


def fit_logistic(rows: list[tuple[float, ...]], labels: list[int], ridge: float = 1e-2) -> Weights:
    """Logistic regression by iteratively reweighted least squares, a small ridge for stability."""
    x = np.column_stack([np.ones(len(rows)), np.asarray(rows, dtype=float)])
    y = np.asarray(labels, dtype=float)
    w = np.zeros(x.shape[1])
    penalty = ridge * np.eye(x.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, x.T @ (y - p) - penalty @ w)
        w += step
        if float(np.abs(step).max()) < 1e-9:
            break
    return Weights(float(w[0]), *(float(v) for v in w[1:]))


@dataclass
class Score:
    """Repair accuracy of one ranking over one seed."""

    debtors: int
    findable: int
    top_right: int
    repaired: dict[float, tuple[int, int]]  # threshold → (repaired, of which top phone right)
    address_findable: int
    address_right: int
    brier: float

    @property
    def top1(self) -> float:
        """Share of debtors with their current phone in a record whose top phone is it."""
        return self.top_right / self.findable if self.findable else math.nan

    def precision(self, threshold: float) -> float:
        """Share of repaired debtors (at ``threshold``) whose top phone is right."""
        marked, right = self.repaired[threshold]
        return right / marked if marked else math.nan


def score(
    prepared: Prepared,
    ranked_by_debtor: Mapping[int, list[RankedContact]],
    findable_phones: Mapping[int, bool],
) -> Score:
    """Top-1, repaired precision at each threshold, address top-1 and the Brier score of top phones."""
    truth = prepared.truth
    result = Score(len(ranked_by_debtor), 0, 0, {t: (0, 0) for t in THRESHOLDS}, 0, 0, 0.0)
    squared, counted = 0.0, 0
    for debtor_id, ranked in ranked_by_debtor.items():
        person = truth.person_of_debtor[debtor_id]
        top = {c.channel: c for c in ranked if c.rank == 1}
        phone = top.get("phone")
        right = phone is not None and phone.value == truth.current_phone[person]
        if findable_phones[debtor_id]:
            result.findable += 1
            result.top_right += right
        if phone is not None and not phone.excluded:
            squared += (phone.confidence - right) ** 2
            counted += 1
        for threshold in THRESHOLDS:
            if repairing_contact(ranked, threshold=threshold) is not None:
                marked, good = result.repaired[threshold]
                result.repaired[threshold] = (marked + 1, good + right)
        addresses = [c for c in ranked if c.channel == "address"]
        if any(is_current(truth, person, "address", c.value) for c in addresses):
            result.address_findable += 1
            result.address_right += is_current(truth, person, "address", top["address"].value)
    result.brier = squared / counted if counted else math.nan
    return result


def rank_all(
    observed: Mapping[int, list[Observation]],
    shared: Mapping[str, int],
    as_of: dt.date,
    weights: Mapping[str, Weights] | None,
) -> dict[int, list[RankedContact]]:
    """Every debtor's ranking with ``weights`` (None: the calibrated constants)."""
    return {d: rank_contacts(obs, as_of=as_of, shared=shared, weights=weights) for d, obs in observed.items()}


@dataclass
class Resolved:
    """Resolve + repair as `contactfix reconcile --full` runs them, and what they stored."""

    ranked: dict[int, list[RankedContact]]  # re-ranked from resolve's identities, for the threshold sweep
    stored_top: dict[int, str]  # debtor id → the phone contact_rankings holds at rank 1
    repaired: set[int]  # debtors whose status the run set to repaired
    counts: dict[str, object]
    seconds: float
    repair_seconds: float  # repair_contacts alone, run a second time over every debtor


def _repair_step(as_of: dt.date) -> Callable[[Session, int, Sequence[int] | None], dict[str, int]]:
    """reconcile's repair step with recency measured to the sample world's last day."""

    def step(session: Session, run_id: int, debtor_ids: Sequence[int] | None) -> dict[str, int]:
        """repair_contacts' counts as reconcile records them."""
        counts = repair_contacts(session, run_id, debtor_ids=debtor_ids, as_of=as_of)
        return {name: int(value) for name, value in asdict(counts).items()}

    return step


def resolved(prepared: Prepared, as_of: dt.date) -> Resolved:
    """Run the reconciliation on the seed's database; read back what it stored."""
    from contactfix.pipeline.reconcile import reconcile

    engine = make_engine(prepared.folder.database_url)
    try:
        started = time.perf_counter()
        report = reconcile(engine, full=True, repair=_repair_step(as_of))
        seconds = time.perf_counter() - started
        with Session(engine) as session, session.begin():
            # Repair again, alone: its own cost, and proof that a second run rewrites nothing.
            started = time.perf_counter()
            again = repair_contacts(session, report.run_id, as_of=as_of)
            repair_seconds = time.perf_counter() - started
        with Session(engine) as session:
            top_query = select(ContactRanking.debtor_id, ContactRanking.value).where(
                ContactRanking.channel == "phone", ContactRanking.rank == 1
            )
            stored_top = {debtor_id: value for debtor_id, value in session.execute(top_query)}
            repaired = set(session.execute(select(Debtor.id).where(Debtor.status == "repaired")).scalars())
            observed = debtor_observations(session, sorted(prepared.truth.person_of_debtor))
            phones = {o.value for obs in observed.values() for o in obs if o.channel == "phone"}
            shared = find_shared_phones(session, values=phones)
    finally:
        engine.dispose()
    ranked = rank_all(observed, shared, as_of, None)
    counts = {**report.counts, "rerun_written": again.rankings_written + again.rankings_deleted}
    return Resolved(ranked, stored_top, repaired, counts, seconds, repair_seconds)


def score_stored(
    prepared: Prepared, run: Resolved, findable_phones: Mapping[int, bool]
) -> tuple[float, int, float]:
    """(top-1, repaired debtors, repaired precision) from the rows the reconciliation stored."""
    truth = prepared.truth
    right = {d: run.stored_top.get(d) == truth.current_phone[p] for d, p in truth.person_of_debtor.items()}
    found = [d for d, can in findable_phones.items() if can]
    top1 = sum(right[d] for d in found) / len(found)
    precision = sum(right[d] for d in run.repaired) / len(run.repaired) if run.repaired else math.nan
    return top1, len(run.repaired), precision


def _weights_lines(name: str, weights: Weights) -> Iterable[str]:
    values = ", ".join(f"{f.name}={getattr(weights, f.name):+.2f}" for f in fields(Weights))
    yield f"- {name}: {values}"


def _score_line(label: str, result: Score, threshold: float) -> str:
    marked, _ = result.repaired[threshold]
    return (
        f"| {label} | {result.debtors:,} | {result.findable:,} | {result.top1:.4f} | {marked:,} "
        f"({marked / result.debtors:.1%}) | {result.precision(threshold):.4f} | "
        f"{result.address_right / max(result.address_findable, 1):.4f} | {result.brier:.4f} |"
    )


def _threshold_line(label: str, result: Score) -> str:
    cells = " | ".join(
        f"{result.repaired[t][0]:,} / {result.precision(t):.3f}" if result.repaired[t][0] else "0 / –"
        for t in THRESHOLDS
    )
    return f"| {label} | {cells} |"


@dataclass
class Report:
    """The Markdown lines the runs add to, section by section."""

    weights: list[str] = field(default_factory=list)
    table: list[str] = field(default_factory=list)
    thresholds: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)

    def print(self) -> None:
        """Print every section."""
        print("Fitted weights (logistic regression, label = the person's current phone / address):\n")
        print("\n".join(self.weights))
        print(f"\nAt the default threshold {DEFAULT_CONFIDENCE_THRESHOLD}:\n")
        print("| run | debtors | current phone in a record | top-1 | repaired | repaired precision "
              "| address top-1 | Brier (top phones) |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        print("\n".join(self.table))
        print("\nRepaired debtors / precision by threshold:\n")
        print("| run | " + " | ".join(str(t) for t in THRESHOLDS) + " |")
        print("|---|" + "---:|" * len(THRESHOLDS))
        print("\n".join(self.thresholds))
        if self.stored:
            print("\nEnd to end: `reconcile(full=True)` (resolve + repair_contacts), read back:\n")
            print("| run | reconcile s | repair alone s | ranked debtors | shared phones | rows rewritten "
                  "by a second repair | top-1 | repaired | repaired precision |")  # fmt: skip
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            print("\n".join(self.stored))


def run_seed(
    report: Report, role: str, seed: int, args: argparse.Namespace, fitted: dict[str, Weights], as_of: dt.date
) -> None:
    """Prepare one seed, fit on it if it is the calibration seed, and score every ranking on it."""
    prepared = prepare(seed, args.debtors, args.workdir)
    observed = oracle_observations(prepared)
    shared = shared_by_persons(prepared, observed)
    if role == "calibration":
        for channel, (rows, labels) in training_rows(prepared, observed, shared, as_of).items():
            fitted[channel] = fit_logistic(rows, labels)
            report.weights += _weights_lines(f"{channel}, fitted on seed {seed} ({len(rows):,} contacts)",
                                             fitted[channel])  # fmt: skip
    can_find = findable(prepared, observed)
    label = f"seed {seed} ({role})"
    for weights_name, weights in (("constants", None), ("fresh fit", fitted)):
        result = score(prepared, rank_all(observed, shared, as_of, weights), can_find)
        name = f"{label}, oracle identities, {weights_name}"
        report.table.append(_score_line(name, result, DEFAULT_CONFIDENCE_THRESHOLD))
        report.thresholds.append(_threshold_line(f"{label}, oracle, {weights_name}", result))
    if args.resolve:
        run = resolved(prepared, as_of)
        result = score(prepared, run.ranked, can_find)
        report.table.append(
            _score_line(f"{label}, resolved identities", result, DEFAULT_CONFIDENCE_THRESHOLD)
        )
        report.thresholds.append(_threshold_line(f"{label}, resolved", result))
        top1, marked, precision = score_stored(prepared, run, can_find)
        report.stored.append(
            f"| {label} | {run.seconds:.1f} | {run.repair_seconds:.1f} | "
            f"{run.counts.get('ranked_debtors')} | {run.counts.get('shared_phones')} | "
            f"{run.counts.get('rerun_written')} | {top1:.4f} | "
            f"{marked:,} ({marked / result.debtors:.1%}) | {precision:.4f} |"
        )
    print(
        f"seed {seed}: prepared in {prepared.seconds:.1f} s, folder {prepared.folder.path}", file=sys.stderr
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debtors", type=int, default=5000)
    parser.add_argument("--calibrate-seed", type=int, default=11)
    parser.add_argument("--eval-seed", type=int, default=12)
    parser.add_argument("--resolve", action="store_true", help="also rank on resolve's identities")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    # Recency is measured to the generated world's last day, so results do not drift with the calendar.
    as_of = dt.date.fromordinal(AS_OF)
    report, fitted = Report(), dict[str, Weights]()
    for role, seed in (("calibration", args.calibrate_seed), ("evaluation", args.eval_seed)):
        run_seed(report, role, seed, args, fitted, as_of)
    report.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
