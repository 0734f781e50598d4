"""``contactfix demo``: the pipeline on generated data, with no services and a fresh SQLite file.

Each step is a plain function that returns what it did, so the command prints it and later steps
build on it: sample data, intake, three mediators, then reconciliation (resolve + repair, which
writes a dispatch per newly repaired debtor) and a few repaired debtors with where their new phone
was found, and last the dispatch of those contacts through the policy gate to the ``outbox``.
The demo never reads ``CONTACTFIX_*`` settings: its
database and its outbox live in its own folder, so it cannot write to a real database.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contactfix.db.dispatch_models import Dispatch, DispatchState
from contactfix.db.engine import make_engine
from contactfix.db.identity_models import ContactRanking
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Debtor, DebtorStatus
from contactfix.intake.receipt import Issue, Receipt, mask_digit_runs
from contactfix.intake.service import import_court_export, iter_issues, submit_bank_batch
from contactfix.pipeline.outcomes import record_outcome
from contactfix.pipeline.ranking import sources_text
from contactfix.pipeline.reconcile import reconcile
from contactfix.pipeline.repair import repair_contacts
from contactfix.pipeline.report import funnel
from contactfix.privacy import keyring_for, using_keyring
from contactfix.sample import AS_OF, SampleSummary, write_sample
from matchers.identifiers import mask_phone

DEFAULT_DEBTORS = 2000
BANK_ORG = "demo-bank"
COURT_ORG = "court-export"
_TOP_REASONS = 5
_EXAMPLE_REJECTIONS = 3
_EXAMPLES = 3
_SIMULATED_ROUNDS = 5
# The generated world ends on AS_OF: recency is measured to that day, so the demo repairs as many
# debtors whatever day it runs (measured to today, the sample's filings would age a little each day).
DEMO_AS_OF = dt.date.fromordinal(AS_OF)
_MASKED_TOKEN = re.compile(r"[0-9A-Za-z+\-]*\*[0-9A-Za-z*+\-]*")
_ROW_NUMBER = re.compile(r"\brow \d+")


@dataclass(frozen=True, slots=True)
class DemoFolder:
    """The demo's own folder: its SQLite database, its outbox and the generated sample files."""

    path: Path

    @property
    def database_url(self) -> str:
        """URL of the demo's SQLite file (never the one the settings name)."""
        return f"sqlite:///{self.path / 'contactfix.sqlite3'}"

    @property
    def outbox_path(self) -> Path:
        """Where the ``outbox`` connector writes the demo's messages."""
        return self.path / "outbox.jsonl"

    @property
    def sample_dir(self) -> Path:
        """Where the generated bank.csv, court.csv and truth files go."""
        return self.path / "sample"


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How often one kind of issue occurred; ``reason`` has its varying values (masked IDs…) elided."""

    severity: str
    field: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class IntakeSummary:
    """What intake made of one file: its counts, commonest issues and a few rejections (masked)."""

    file: str
    submission_id: int
    rows: int
    accepted: int
    rejected: int
    warnings: int
    top_reasons: list[ReasonCount]
    example_rejections: list[Issue]
    seconds: float


@dataclass(frozen=True, slots=True)
class RepairExample:
    """One repaired debtor: its new phone and the one the bank lost (masked), and where it was found."""

    reference: str
    phone: str
    confidence: float
    lost_phone: str | None
    sources: str


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    """What the reconciliation did: its counts, how many debtors are repaired, a few examples."""

    run_id: int
    counts: dict[str, Any]
    debtors: int
    repaired: int
    examples: list[RepairExample]
    seconds: float


@dataclass(frozen=True, slots=True)
class DispatchSummary:
    """What dispatch did: outcomes now, outcomes at the simulated next allowed time, and the outbox."""

    outcomes: dict[str, int]
    simulated_at: dt.datetime | None
    later_outcomes: dict[str, int]
    states: dict[str, int]
    outbox_lines: dict[str, int]
    example_texts: list[str]


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    """What the simulated mediators reported, and what the next night's run did with it."""

    reported: dict[str, int]
    redispatched: int
    lost_again: int


@dataclass(slots=True)
class DemoResult:
    """Everything the demo did, step by step; later steps add their fields."""

    folder: DemoFolder
    debtors: int
    seed: int
    sample: SampleSummary | None = None
    intake: list[IntakeSummary] = field(default_factory=list)
    reconcile: ReconcileSummary | None = None
    dispatch: DispatchSummary | None = None
    outcomes: OutcomeSummary | None = None
    funnel: dict[str, int] | None = None
    seconds: float = 0.0


def make_folder(parent: Path | None = None) -> DemoFolder:
    """A new, empty folder for one demo run (in the system's temporary folder unless ``parent``)."""
    return DemoFolder(Path(tempfile.mkdtemp(prefix="contactfix-demo-", dir=parent)))


def create_database(folder: DemoFolder) -> str:
    """Create the demo's SQLite database with every migration applied; its URL."""
    upgrade_database(folder.database_url)
    return folder.database_url


def generate_sample(folder: DemoFolder, debtors: int, seed: int) -> SampleSummary:
    """Write the sample bank batch and court export (and their truth) into the demo folder."""
    return write_sample(folder.sample_dir, debtors, seed)


def take_in(folder: DemoFolder) -> list[IntakeSummary]:
    """Submit the sample bank.csv as a bank batch and import court.csv; summarise both receipts."""
    engine = make_engine(folder.database_url)
    try:
        summaries = []
        for name, submit in (("bank.csv", _submit_bank), ("court.csv", _import_court)):
            started = time.perf_counter()
            receipt = submit(engine, folder.sample_dir / name)
            summaries.append(summarise_receipt(engine, name, receipt, time.perf_counter() - started))
        return summaries
    finally:
        engine.dispose()


def _submit_bank(engine: Engine, path: Path) -> Receipt:
    return submit_bank_batch(engine, path, BANK_ORG)


def _import_court(engine: Engine, path: Path) -> Receipt:
    return import_court_export(engine, path, COURT_ORG)


def summarise_receipt(engine: Engine, file: str, receipt: Receipt, seconds: float) -> IntakeSummary:
    """Counts from the receipt; issues read back from the database, as a receipt may hold only some."""
    kinds: Counter[tuple[str, str, str]] = Counter()
    rejections: list[Issue] = []
    warnings = 0
    for issue in iter_issues(engine, receipt.submission_id):
        kinds[(issue.severity, issue.field, reason_pattern(issue.reason))] += 1
        warnings += issue.severity == "warning"
        if issue.severity == "rejected" and len(rejections) < _EXAMPLE_REJECTIONS:
            rejections.append(Issue(issue.row, issue.field, mask_digit_runs(issue.reason), issue.severity))
    top = [ReasonCount(*kind, count) for kind, count in kinds.most_common(_TOP_REASONS)]
    return IntakeSummary(
        file, receipt.submission_id, receipt.rows, receipt.accepted, receipt.rejected, warnings, top,
        rejections, seconds,
    )  # fmt: skip


def reason_pattern(reason: str) -> str:
    """``reason`` with what varies from row to row (masked numbers, row numbers) elided, for counting."""
    return _ROW_NUMBER.sub("row …", _MASKED_TOKEN.sub("…", mask_digit_runs(reason)))


def _repair_step(as_of: dt.date) -> Callable[[Session, int, Sequence[int] | None], dict[str, int]]:
    def step(session: Session, run_id: int, debtor_ids: Sequence[int] | None) -> dict[str, int]:
        """repair_contacts' counts as reconcile records them."""
        counts = repair_contacts(session, run_id, debtor_ids=debtor_ids, as_of=as_of)
        return {name: int(value) for name, value in dataclasses.asdict(counts).items()}

    return step


def reconcile_and_repair(folder: DemoFolder, examples: int = _EXAMPLES) -> ReconcileSummary:
    """A full reconciliation (resolve, then repair measured to the sample's last day); its summary."""
    engine = make_engine(folder.database_url)
    try:
        started = time.perf_counter()
        report = reconcile(engine, full=True, repair=_repair_step(DEMO_AS_OF))
        seconds = time.perf_counter() - started
        with Session(engine) as session:
            statuses = session.execute(select(Debtor.status, func.count()).group_by(Debtor.status))
            by_status = {status: int(count) for status, count in statuses}
            shown = repair_examples(session, examples)
    finally:
        engine.dispose()
    repaired = by_status.get(DebtorStatus.REPAIRED.value, 0)
    return ReconcileSummary(report.run_id, report.counts, sum(by_status.values()), repaired, shown, seconds)


def repair_examples(session: Session, limit: int) -> list[RepairExample]:
    """The first ``limit`` repaired debtors (by reference) with their best phone, masked."""
    query = (
        select(
            Debtor.id,
            Debtor.reference,
            ContactRanking.value,
            ContactRanking.confidence,
            ContactRanking.sources,
        )
        .join(ContactRanking, ContactRanking.debtor_id == Debtor.id)
        .where(Debtor.status == DebtorStatus.REPAIRED.value, ContactRanking.channel == "phone")
        .where(ContactRanking.rank == 1)
        .order_by(Debtor.reference)
        .limit(limit)
    )
    found = []
    for debtor_id, reference, value, confidence, sources in session.execute(query):
        phones = session.execute(
            select(ContactRanking.flags, ContactRanking.value)
            .where(ContactRanking.debtor_id == debtor_id, ContactRanking.channel == "phone")
            .order_by(ContactRanking.rank)
        )
        lost_phone = next((phone for flags, phone in phones if "bank_had" in (flags or ())), None)
        found.append(
            RepairExample(
                reference, mask_phone(value), confidence, mask_phone(lost_phone) if lost_phone else None,
                sources_text(sources),
            )
        )  # fmt: skip
    return found


# A demo mediation center: made-up names and numbers of an unassigned mobile block's kind.
DEMO_MEDIATORS = (
    ("陈静", "+8613800000001", "08:30-17:30"),
    ("林海", "+8613800000002", "09:00-18:00"),
    ("王芳", "+8613800000003", None),
)
DEMO_CENTER = "示范调解中心"


def add_mediators(folder: DemoFolder) -> int:
    """The demo center's mediators; repaired debtors are assigned to them round-robin."""
    from contactfix.dispatch.mediators import MediatorInput, add_mediator

    engine = make_engine(folder.database_url)
    try:
        with Session(engine) as session, session.begin():
            for name, phone, hours in DEMO_MEDIATORS:
                add_mediator(session, MediatorInput(name, phone, DEMO_CENTER, hours))
    finally:
        engine.dispose()
    return len(DEMO_MEDIATORS)


def dispatch_repaired(folder: DemoFolder, now: dt.datetime | None = None) -> DispatchSummary:
    """Relay and send every dispatch in process; what the policy defers is sent at a simulated clock.

    The first pass runs at ``now`` (the real time): outside the mediators' and debtors' hours the
    policy defers everything. The demo then sets its clock to the earliest deferral and relays again
    (what beat does when that time comes), a few times over, as each mediator's day starts.
    """
    from connectors.outbox import read_outbox
    from contactfix.db.dispatch_models import Dispatch, DispatchState
    from contactfix.dispatch.channels import Channels, ChannelsConfig, RateLimit
    from contactfix.dispatch.relay import relay
    from contactfix.dispatch.sender import DispatchSender, SenderSettings, utcnow
    from contactfix.dispatch.status import state_counts
    from contactfix.policy import load_profile

    unlimited = RateLimit(1.0, 1.0)  # no limiter runs in process; the value is never used
    options = {"outbox": {"path": str(folder.outbox_path)}}
    config = ChannelsConfig("outbox", "outbox", options, limits={}, recipient_limit=unlimited)
    engine = make_engine(folder.database_url)
    channels = Channels.open(config)
    clock = [now or utcnow()]
    deferred = Dispatch.state == DispatchState.DEFERRED.value
    try:
        sender = DispatchSender(
            engine, channels, load_profile("cn"), SenderSettings(), clock=lambda: clock[0]
        )
        outcomes: Counter[str] = Counter()
        relay(engine, lambda i: outcomes.update([sender.send(i).result]), now=clock[0], requeue_after_s=60)
        later: Counter[str] = Counter()
        waiting = first = None
        for _ in range(_SIMULATED_ROUNDS):  # each mediator's hours start at their own time
            with Session(engine) as session:
                waiting = session.scalar(select(func.min(Dispatch.next_attempt_at)).where(deferred))
            if waiting is None:
                break
            first = first or waiting
            clock[0] = waiting
            relay(engine, lambda i: later.update([sender.send(i).result]), now=waiting, requeue_after_s=60)
        with Session(engine) as session:
            states = {k: v for k, v in state_counts(session).items() if v}
    finally:
        channels.close()
        engine.dispose()
    entries = read_outbox(folder.outbox_path)
    texts = [str(e["text"]) for e in entries if e.get("kind") == "sms"][:2]
    kinds = dict(Counter(str(e["kind"]) for e in entries))
    return DispatchSummary(dict(outcomes), first, dict(later), states, kinds, texts)


def report_outcomes(folder: DemoFolder) -> OutcomeSummary:
    """Mediators dial every delivered contact and say what they found, as the sample's truth has it
    (reached on a number the debtor uses, wrong number otherwise); then the next night's incremental
    run re-ranks those debtors and dispatches the next candidate after a wrong number."""
    live = _live_phones(folder.sample_dir / "truth.csv")
    engine = make_engine(folder.database_url)
    reported: Counter[str] = Counter()
    try:
        with Session(engine) as session, session.begin():
            delivered = session.execute(
                select(Dispatch.debtor_id, Debtor.reference, Dispatch.contact_value)
                .join(Debtor, Debtor.id == Dispatch.debtor_id)
                .where(Dispatch.state == DispatchState.DELIVERED.value)
                .order_by(Dispatch.id)
            ).all()
            for debtor_id, reference, value in delivered:
                result = "reached" if value in live.get(reference, ()) else "wrong_number"
                record_outcome(
                    session, debtor_id=debtor_id, contact=value, result=result, reporter="demo-mediator"
                )
                reported[result] += 1
        report = reconcile(engine, repair=_repair_step(DEMO_AS_OF))
    finally:
        engine.dispose()
    counts = report.counts
    return OutcomeSummary(
        dict(reported), int(counts.get("redispatched", 0)), int(counts.get("lost_again", 0))
    )


def _live_phones(truth: Path) -> dict[str, set[str]]:
    """Bank reference → the numbers the debtor uses today, from the sample's truth.csv."""
    with truth.open(encoding="utf-8", newline="") as handle:
        return {
            row["id"]: set(filter(None, (row.get("live_phones") or "").split(";")))
            for row in csv.DictReader(handle)
            if row["source"] == "bank"
        }


def repair_funnel(folder: DemoFolder) -> dict[str, int]:
    """The funnel (``contactfix report``) of the demo's bank."""
    engine = make_engine(folder.database_url)
    try:
        with Session(engine) as session:
            return funnel(session)
    finally:
        engine.dispose()


def run_demo(debtors: int = DEFAULT_DEBTORS, seed: int = 0, folder: DemoFolder | None = None) -> DemoResult:
    """Every step in order in a fresh folder (or ``folder``): database, sample data, intake, reconcile."""
    started = time.perf_counter()
    result = DemoResult(folder or make_folder(), debtors, seed)
    # Keyed hashes under the demo database's own key (a key file beside it), never the settings'.
    with using_keyring(keyring_for(result.folder.database_url)):
        create_database(result.folder)
        result.sample = generate_sample(result.folder, debtors, seed)
        result.intake = take_in(result.folder)
        add_mediators(result.folder)
        result.reconcile = reconcile_and_repair(result.folder)
        result.dispatch = dispatch_repaired(result.folder)
        result.outcomes = report_outcomes(result.folder)
        result.funnel = repair_funnel(result.folder)
    result.seconds = time.perf_counter() - started
    return result
