"""Builders and readers for the reconciliation tests: a sample world in the database, its truth, and
what resolution stored (identities, links, runs), in forms that compare with ==."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pytest
import sqlalchemy as sa

from contactfix.db import make_engine, upgrade_database
from contactfix.db.identity_models import Identity, IdentityMember, ReconcileRun, RecordLink
from contactfix.db.models import SourceRecord
from contactfix.intake import import_court_export, submit_bank_batch
from contactfix.sample import write_sample
from matchers.errors import InvalidCaseNumber
from matchers.identifiers import parse_case_number

BANK_ORG = "闽东银行"


@dataclass(frozen=True)
class World:
    """A written sample: bank.csv, the court export split in two (older filings, then newer), truth."""

    folder: Path
    bank: Path
    court_old: Path
    court_new: Path
    court_all: Path


def write_world(folder: Path, debtors: int, seed: int, new_share: float = 0.2) -> World:
    """Write a sample of ``debtors`` and split court.csv: the last ``new_share`` of rows (newest
    filings: the export is in date order) go to court_new.csv, as the next day's export would."""
    write_sample(folder, debtors, seed)
    with (folder / "court.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    cut = int(len(body) * (1 - new_share))
    for name, part in (("court_old.csv", body[:cut]), ("court_new.csv", body[cut:])):
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *part])
    return World(
        folder, folder / "bank.csv", folder / "court_old.csv", folder / "court_new.csv", folder / "court.csv"
    )


def load_world(url: str, world: World, *, court: str = "old") -> sa.Engine:
    """Migrate the database at ``url`` and take in the bank batch and the ``court`` part ("old", "all")."""
    upgrade_database(url)
    engine = make_engine(url)
    submit_bank_batch(engine, world.bank, BANK_ORG)
    import_court_export(engine, world.court_old if court == "old" else world.court_all)
    return engine


def truth(engine: sa.Engine, world: World) -> dict[int, str]:
    """Source record id → person id, from truth.csv (court rows by case number and name as written)."""
    person = {(row["source"], row["id"]): row["person_id"] for row in _rows(world.folder / "truth.csv")}
    by_case: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in _rows(world.court_all):
        try:
            reference = parse_case_number(row["case_number"]).canonical
        except InvalidCaseNumber:
            reference = row["case_number"]
        by_case[(reference, row["name"])].add(person[("court", row["id"])])
    found: dict[int, str] = {}
    query = sa.select(
        SourceRecord.id, SourceRecord.source, SourceRecord.reference, SourceRecord.name_original
    )
    with engine.connect() as connection:
        for record_id, source, reference, name in connection.execute(query):
            if source == "bank":
                found[record_id] = person[("bank", reference)]
            elif len(people := by_case.get((reference, name), set())) == 1:
                found[record_id] = next(iter(people))
    return found


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def partition(engine: sa.Engine) -> set[frozenset[int]]:
    """The identities as sets of source record ids."""
    groups: dict[int, set[int]] = defaultdict(set)
    with engine.connect() as connection:
        for record_id, identity_id in connection.execute(
            sa.select(IdentityMember.source_record_id, IdentityMember.identity_id)
        ):
            groups[identity_id].add(record_id)
    return {frozenset(members) for members in groups.values()}


def memberships(engine: sa.Engine) -> dict[int, int]:
    """Source record id → identity id."""
    with engine.connect() as connection:
        query = sa.select(IdentityMember.source_record_id, IdentityMember.identity_id)
        return {record_id: identity_id for record_id, identity_id in connection.execute(query)}


def links(engine: sa.Engine) -> dict[tuple[int, int], float]:
    """(record a, record b) → probability of every stored link."""
    with engine.connect() as connection:
        query = sa.select(RecordLink.record_a_id, RecordLink.record_b_id, RecordLink.probability)
        return {(a, b): p for a, b, p in connection.execute(query)}


def identity_flags(engine: sa.Engine) -> dict[int, list[str]]:
    """Identity id → its flags."""
    with engine.connect() as connection:
        return {i: list(f) for i, f in connection.execute(sa.select(Identity.id, Identity.flags))}


def identity_count(engine: sa.Engine) -> int:
    """How many identity rows exist (members or not)."""
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(Identity)).scalar_one())


def runs(engine: sa.Engine) -> list[tuple[int, str, bool]]:
    """(id, status, full) of every run, in order."""
    with engine.connect() as connection:
        query = sa.select(ReconcileRun.id, ReconcileRun.status, ReconcileRun.full).order_by(ReconcileRun.id)
        return [(i, s, f) for i, s, f in connection.execute(query)]


def pairwise_f1(groups: set[frozenset[int]], people: dict[int, str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the pairs of records put in one identity, against the truth."""
    predicted = {pair for g in groups for pair in combinations(sorted(r for r in g if r in people), 2)}
    by_person: dict[str, list[int]] = defaultdict(list)
    for record_id, person in people.items():
        by_person[person].append(record_id)
    actual = {pair for members in by_person.values() for pair in combinations(sorted(members), 2)}
    hits = len(predicted & actual)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(actual) if actual else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall) if hits else 0.0


@dataclass(frozen=True)
class Snapshot:
    """Everything resolution stored, comparable with ==."""

    memberships: dict[int, int]
    links: dict[tuple[int, int], float]
    flags: dict[int, list[str]]
    identities: int


def snapshot(engine: sa.Engine) -> Snapshot:
    """What resolution stored right now."""
    return Snapshot(memberships(engine), links(engine), identity_flags(engine), identity_count(engine))


def record_count(engine: sa.Engine) -> int:
    """How many source records exist."""
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(SourceRecord)).scalar_one())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A 300-debtor sample (seed 11), court export split in older and newer filings."""
    return write_world(tmp_path_factory.mktemp("world"), 300, 11)
