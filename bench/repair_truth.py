"""The truth behind a sample, for the repair benchmark: each debtor's person, that person's records in
the database, live phones (a person may have two), what every number is to them (current, stale,
the bank's lost number, a relative's or employer's) and current address; and the seed's database.

Phones come from the sample's persons.csv and phones.csv; addresses from regenerating the world with
the settings in its settings.json.

Court records are matched to their rows in court.csv by recomputing the key intake stores them under.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.db.engine import make_engine
from contactfix.db.models import Debtor, SourceRecord
from contactfix.demo import DemoFolder, create_database, generate_sample, make_folder, take_in
from contactfix.intake.headers import map_headers, recognises_header
from contactfix.intake.reader import inspect_file, open_table
from contactfix.intake.rows import RowNormaliser
from contactfix.pipeline.observations import debtor_observations
from contactfix.pipeline.ranking import Observation, contact_key
from contactfix.sample import generate_records
from contactfix.sample.settings import SampleSettings

SHARED_MIN_PERSONS = 3


@dataclass
class Truth:
    """What the generator knows: each debtor's person, its records, phones and current address.

    ``current_phone`` is the person's main live mobile; ``live_phones`` every live one (E.164);
    ``phone_status`` what a (person, E.164 number) is to them (phones.csv: current, bank_lost, stale,
    landline, relative, employer; a pair missing from it is a number that is not theirs).
    """

    person_of_debtor: dict[int, str]
    records_of_person: dict[str, set[int]]
    current_phone: dict[str, str]
    current_address: dict[str, str]
    live_phones: dict[str, frozenset[str]]
    phone_status: dict[tuple[str, str], str]


@dataclass
class Prepared:
    """One seed's database and truth."""

    seed: int
    folder: DemoFolder
    truth: Truth
    seconds: float


def prepare(seed: int, debtors: int, parent: Path | None) -> Prepared:
    """Sample for ``seed`` taken into a fresh SQLite database, with the truth behind it."""
    started = time.perf_counter()
    folder = make_folder(parent)
    create_database(folder)
    generate_sample(folder, debtors, seed)
    take_in(folder)
    return Prepared(seed, folder, _truth(folder, debtors, seed), time.perf_counter() - started)


def _truth(folder: DemoFolder, debtors: int, seed: int) -> Truth:
    rows: dict[tuple[str, str], str] = {}
    with (folder.sample_dir / "truth.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[(row["source"], row["id"])] = row["person_id"]
    phones: dict[str, str] = {}
    live: dict[str, frozenset[str]] = {}
    with (folder.sample_dir / "persons.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            phones[row["person_id"]] = row["current_phone"]
            live[row["person_id"]] = frozenset(row["live_phones"].split(";"))
    with (folder.sample_dir / "phones.csv").open(encoding="utf-8", newline="") as handle:
        status = {(row["person_id"], row["phone"]): row["status"] for row in csv.DictReader(handle)}
    settings = SampleSettings.from_dict(json.loads((folder.sample_dir / "settings.json").read_text("utf-8")))
    addresses = {}
    for records in generate_records(debtors, seed, settings):
        person = records.person
        addresses[person.person_id] = contact_key("address", person.addresses[-1].full)
    engine = make_engine(folder.database_url)
    court_keys = _court_record_keys(folder.sample_dir / "court.csv")
    person_of_debtor: dict[int, str] = {}
    records_of_person: dict[str, set[int]] = defaultdict(set)
    with Session(engine) as session:
        for debtor_id, reference, record_id in session.execute(
            select(Debtor.id, Debtor.reference, Debtor.source_record_id)
        ):
            person_of_debtor[debtor_id] = rows[("bank", reference)]
            records_of_person[rows[("bank", reference)]].add(record_id)
        for record_id, key in session.execute(
            select(SourceRecord.id, SourceRecord.record_key).where(SourceRecord.source == "court")
        ):
            for row_id in court_keys.get(key, ()):
                records_of_person[rows[("court", row_id)]].add(record_id)
    engine.dispose()
    return Truth(person_of_debtor, dict(records_of_person), phones, addresses, live, status)


def _court_record_keys(path: Path) -> dict[str, list[str]]:
    """record_key → the court.csv row ids that intake stored under it (as intake computes keys)."""
    facts = inspect_file(path, 1 << 40)
    table = open_table(facts, lambda cells: recognises_header(cells, "court"))
    normaliser = RowNormaliser("court", map_headers(table.headers, "court"), 0, dt.date.today(), 500)
    keys: dict[str, list[str]] = defaultdict(list)
    for number, cells in table:
        record = normaliser.normalise(number, cells).record
        if record is not None:
            keys[record.record_key].append(str(cells[0]))
    return keys


def oracle_observations(prepared: Prepared) -> dict[int, list[Observation]]:
    """Each debtor's observations over the records of its true person, all with membership 1."""
    truth = prepared.truth
    members = {
        debtor_id: {record_id: 1.0 for record_id in truth.records_of_person[person]}
        for debtor_id, person in truth.person_of_debtor.items()
    }
    engine = make_engine(prepared.folder.database_url)
    try:
        with Session(engine) as session:
            return debtor_observations(session, sorted(members), members=members)
    finally:
        engine.dispose()


def shared_by_persons(prepared: Prepared, observed: Mapping[int, list[Observation]]) -> dict[str, int]:
    """Phones on the true records of ≥ 3 persons (the oracle's view of what find_shared_phones finds)."""
    person_of_record = {r: p for p, records in prepared.truth.records_of_person.items() for r in records}
    persons: dict[str, set[str]] = defaultdict(set)
    for observations in observed.values():
        for o in observations:
            if o.channel == "phone" and o.record_id in person_of_record:
                persons[o.value].add(person_of_record[o.record_id])
    return {value: len(who) for value, who in persons.items() if len(who) >= SHARED_MIN_PERSONS}


def is_current(truth: Truth, person: str, channel: str, value: str) -> bool:
    """Whether ``value`` is one of the person's live mobiles (phones) or their current address."""
    if channel == "phone":
        return value in truth.live_phones[person]
    return contact_key(channel, value) == truth.current_address[person]


def findable(prepared: Prepared, observed: Mapping[int, list[Observation]]) -> dict[int, bool]:
    """debtor id → one of its live phones appears in one of its true records."""
    truth = prepared.truth
    return {
        debtor_id: any(
            o.channel == "phone" and o.value in truth.live_phones[truth.person_of_debtor[debtor_id]]
            for o in observations
        )
        for debtor_id, observations in observed.items()
    }
