"""The realism knobs of the sample do what they say, at the rates they are set to.

Each knob is measured on 3,000 debtors (about 11,000 court rows) under the ``realistic`` default and
under other values of every knob, so a knob that ignored its value would fail. The truth files are
checked against the written rows, and ``legacy`` against the bytes of the generator before the knobs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from statistics import mean

import pytest

from contactfix.sample import (
    AS_OF,
    PROFILES,
    REALISTIC,
    CourtRow,
    PersonRecords,
    SampleSettings,
    generate_records,
    write_sample,
)
from contactfix.sample.settings import parse_range

DEBTORS = 3000
CONTACTFIX = Path(sys.executable).with_name("contactfix")
_PHONE, _FILED, _ROLE = 7, 2, 1  # positions in CourtRow.values
_OTHERS = {"phone_copied", "phone_relative", "phone_employer"}
# Every knob away from its default, to show the rates follow the settings.
OTHER = SampleSettings(
    filing_age_years=(2.0, 3.0),
    change_age_years=(1.0, 2.0),
    recorded_lag_years=(0.5, 0.5),
    copied_bank_number=0.6,
    third_party_number=0.25,
    employer_share=0.8,
    two_live_numbers=0.4,
    lost_on=0.2,
)
SETTINGS = {"realistic": REALISTIC, "other": OTHER}


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def settings(request: pytest.FixtureRequest) -> SampleSettings:
    return SETTINGS[request.param]


@pytest.fixture(scope="module")
def world(settings: SampleSettings) -> list[PersonRecords]:
    return list(generate_records(DEBTORS, seed=21, settings=settings))


def _own_rows(world: list[PersonRecords]) -> list[CourtRow]:
    """Court rows of each person (co-parties' rows are counted with their own person's too)."""
    return [row for records in world for row in records.court]


def _filed(row: CourtRow) -> int:
    return date.fromisoformat(row.values[_FILED]).toordinal()


def _digits(written: str) -> str:
    digits = re.sub(r"\D", "", written.translate({0xFF10 + i: 48 + i for i in range(10)}))
    return digits.removeprefix("0086").removeprefix("86") if len(digits) > 11 else digits


def _days(years: float) -> int:
    return round(years * 365)


def test_filing_age(settings: SampleSettings, world: list[PersonRecords]) -> None:
    newest, oldest = (_days(y) for y in settings.filing_age_years)
    ages = [AS_OF - _filed(row) for row in _own_rows(world)]
    assert min(ages) >= newest and max(ages) <= oldest
    # Spread evenly over the window: each half holds about half the filings.
    middle = (newest + oldest) / 2
    assert 0.45 <= sum(age < middle for age in ages) / len(ages) <= 0.55


def test_change_age_and_filings_on_either_side(settings: SampleSettings, world: list[PersonRecords]) -> None:
    assert settings.change_age_years is not None
    low, high = (_days(y) for y in settings.change_age_years)
    changed = [r for r in world if r.bank is not None and len(r.person.phones) > 1]
    ages = [AS_OF - r.person.phones[-1][0] for r in changed]
    # A change cannot come before the first mobile is half a year old: the young are clamped.
    assert sum(low <= age <= high for age in ages) / len(ages) >= 0.97
    assert abs(mean(ages) - (low + high) / 2) <= 0.08 * (high - low) + 30
    # The bank lost every debtor through a change: its number is never the live one.
    debtors = [r for r in world if r.bank is not None]
    assert len(changed) >= 0.99 * len(debtors)
    assert not any(r.bank.phone_status == "current" for r in debtors if r.bank is not None)
    assert sum(r.bank.phone_status == "bank_lost" for r in debtors if r.bank is not None) >= 0.9 * len(
        debtors
    )
    # Court-only people keep changing at any time of their lives.
    others = [AS_OF - r.person.phones[-1][0] for r in world if r.bank is None and len(r.person.phones) > 1]
    assert sum(age > high for age in others) / len(others) > 0.2
    # Filings fall before and after the change, in any order.
    sides: Counter[str] = Counter()
    for r in changed:
        filed = [_filed(row) for row in r.court if row.person is r.person]
        if filed:
            last = r.person.phones[-1][0]
            sides["all before" if max(filed) < last else "all after" if min(filed) >= last else "both"] += 1
    total = sum(sides.values())
    if settings.change_age_years[1] <= settings.filing_age_years[0]:
        assert sides["all before"] >= 0.99 * total, sides  # every change came after every filing
    else:
        assert all(sides[side] / total >= 0.05 for side in ("all before", "all after", "both")), sides


def test_recorded_lag(settings: SampleSettings, world: list[PersonRecords]) -> None:
    low, high = (_days(y) for y in settings.recorded_lag_years)
    taken = [
        row
        for row in _own_rows(world)
        if row.values[_PHONE]
        and not (_OTHERS | {"phone_shared", "phone_fixed", "phone_second"}) & set(row.noise)
    ]
    lagged = 0
    for row in taken:
        person, filed, number = row.person, _filed(row), _digits(row.values[_PHONE])
        # In use at some day of [filed - high, filed - low] (or the first mobile, if that came later).
        spans = [(since, person.phones[k + 1][0] - 1 if k + 1 < len(person.phones) else AS_OF)
                 for k, (since, n) in enumerate(person.phones) if n == number]  # fmt: skip
        assert spans, row.noise
        start = min(filed - low, max(filed - high, person.phones[0][0]))
        assert any(since <= filed - low and until >= start for since, until in spans) or (
            person.phones[0][0] > filed - low and number == person.phones[0][1]
        )
        if low == high:
            assert number == person.phone_at(max(filed - low, min(filed, person.phones[0][0])))
        lagged += "phone_lagged" in row.noise
        assert ("phone_lagged" in row.noise) == (number != person.phone_at(filed))
    assert lagged > 0.01 * len(taken)


def test_copied_bank_number(settings: SampleSettings, world: list[PersonRecords]) -> None:
    defendants = [row for row in _own_rows(world) if row.values[_ROLE] in ("被告", "被执行人")]
    copied = [row for row in defendants if "phone_copied" in row.noise]
    assert abs(len(copied) / len(defendants) - settings.copied_bank_number) <= 0.03
    others = [row for row in _own_rows(world) if row.values[_ROLE] not in ("被告", "被执行人")]
    assert others and not any("phone_copied" in row.noise for row in others)
    lost = {r.person.person_id: r.bank.lost_phone for r in world if r.bank is not None}
    for row in copied:
        number = _digits(row.values[_PHONE])
        if row.person.person_id in lost:
            # Our debtors' plaintiffs write the number our bank lost them on.
            assert number == lost[row.person.person_id]
            assert row.phone_status == ("current" if number in row.person.live_phones else "bank_lost")
        else:
            assert number in {n for _, n in row.person.phones}


def test_third_party_numbers(settings: SampleSettings, world: list[PersonRecords]) -> None:
    rows = [row for row in _own_rows(world) if not row.person.is_company]
    third = [row for row in rows if {"phone_relative", "phone_employer"} & set(row.noise)]
    assert abs(len(third) / len(rows) - settings.third_party_number) <= 0.025
    employer = [row for row in third if "phone_employer" in row.noise]
    assert abs(len(employer) / len(third) - settings.employer_share) <= 0.05
    own = {n for r in world for _, n in r.person.phones} | {r.person.landline for r in world}
    numbers_of: dict[str, set[str]] = defaultdict(set)
    for row in third:
        person, number = row.person, _digits(row.values[_PHONE])
        kind = "employer" if "phone_employer" in row.noise else "relative"
        expected = getattr(person, kind)
        assert number == ("0" + expected if kind == "employer" and person.employer_area else expected)
        assert row.phone_status == kind and expected not in own  # a third party's, nobody's own
        numbers_of[person.person_id + kind].add(number)
    # The same relative and employer recur across a person's filings.
    assert all(len(numbers) == 1 for numbers in numbers_of.values())
    assert not any(row.person.relative for r in world for row in r.court if row.person.is_company)


def test_two_live_numbers(settings: SampleSettings, world: list[PersonRecords]) -> None:
    people = [r.person for r in world]
    two = [p for p in people if p.second_phone is not None]
    assert abs(len(two) / len(people) - settings.two_live_numbers) <= 0.025
    for person in two:
        assert person.second_phone is not None
        since, number = person.second_phone
        assert person.phones[0][0] + 180 <= since < AS_OF and person.live_phones == (
            person.current_phone,
            number,
        )
        assert number not in {n for _, n in person.phones}
    seconds = [row for row in _own_rows(world) if "phone_second" in row.noise]
    assert seconds and all(row.phone_status == "current" for row in seconds)
    assert all(len(p.live_phones) == 1 for p in people if p.second_phone is None)


def test_lost_on(settings: SampleSettings, world: list[PersonRecords]) -> None:
    rows = [r.bank for r in world if r.bank is not None and "name_only" not in r.bank.noise]
    dated = [row for row in rows if row.values[10]]
    assert abs(len(dated) / len(rows) - settings.lost_on) <= 0.03
    for row in dated:
        lost_on, person = date.fromisoformat(row.values[10]).toordinal(), row.person
        assert lost_on < AS_OF
        numbers = [n for _, n in person.phones]
        at = numbers.index(row.lost_phone)
        if at + 1 < len(numbers):
            # A month to a year after the bank's number stopped being the debtor's.
            stopped = person.phones[at + 1][0]
            assert stopped + 30 <= lost_on <= min(stopped + 365, AS_OF - 1)
        else:
            assert lost_on >= person.phones[0][0]


def test_other_profiles_lose_the_knobs_they_turn_off() -> None:
    legacy = list(generate_records(500, seed=3, settings=PROFILES["legacy"]))
    clean = list(generate_records(500, seed=3, settings=PROFILES["clean"]))
    tags = {name: Counter(t for r in w for row in r.court for t in row.noise) for name, w in
            (("legacy", legacy), ("clean", clean))}  # fmt: skip
    for name in ("legacy", "clean"):
        assert not tags[name]["phone_copied"] and not tags[name]["phone_relative"]
        assert not tags[name]["phone_employer"] and not tags[name]["phone_lagged"]
    assert not tags["legacy"]["phone_second"] and tags["clean"]["phone_second"]
    assert all(len(r.bank.values) == 10 for r in legacy if r.bank is not None)
    assert all(r.bank.values[10] for r in clean if r.bank is not None and "name_only" not in r.bank.noise)


def _newest_and_findable(world: list[PersonRecords]) -> tuple[float, float]:
    """Of debtors with a phone on a filing of theirs: the share whose newest one is live, and the
    share with a live number on any."""
    newest = findable = total = 0
    for r in world:
        rows = [row for row in r.court if row.person is r.person and row.phone_status]
        if r.bank is None or not rows:
            continue
        total += 1
        newest += max(rows, key=lambda row: row.values[_FILED]).phone_status == "current"
        findable += any(row.phone_status == "current" for row in rows)
    return newest / total, findable / total


def test_the_newest_sighting_is_no_longer_the_current_number() -> None:
    measured = {
        name: _newest_and_findable(list(generate_records(1500, seed=8, settings=PROFILES[name])))
        for name in ("legacy", "clean", "realistic", "harsh")
    }
    assert measured["legacy"][0] >= 0.65  # what repair was fitted on
    assert measured["realistic"][0] <= 0.5
    findable = [measured[name][1] for name in ("legacy", "clean", "realistic", "harsh")]
    assert findable == sorted(findable, reverse=True) and findable[-1] < 0.3


def _e164(written: str) -> str:
    digits = _digits(written)
    return "+86" + (digits[1:] if digits.startswith("0") else digits)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_truth_files_agree_with_the_rows(tmp_path: Path) -> None:
    write_sample(tmp_path, 400, seed=9, settings=PROFILES["harsh"])
    truth = {(row["source"], row["id"]): row for row in _csv(tmp_path / "truth.csv")}
    status = {(row["person_id"], row["phone"]): row["status"] for row in _csv(tmp_path / "phones.csv")}
    live = {row["person_id"]: row["live_phones"] for row in _csv(tmp_path / "persons.csv")}
    seen: Counter[str] = Counter()
    for source in ("bank", "court"):
        for row in _csv(tmp_path / f"{source}.csv"):
            facts = truth[(source, row["id"])]
            person, said = facts["person_id"], facts["phone_status"]
            seen[said] += 1
            assert facts["live_phones"] == (live[person] if source == "bank" else "")
            if not row["phone"]:
                assert said == ""
            elif said == "shared":
                assert (person, _e164(row["phone"])) not in status
            elif said != "malformed":
                assert status[(person, _e164(row["phone"]))] == said
    assert {"current", "bank_lost", "stale", "landline", "relative", "employer", "shared"} <= set(seen)
    for row in _csv(tmp_path / "phones.csv"):
        if row["status"] in ("current", "stale", "bank_lost"):
            assert row["since"] and (row["until"] == "") == (row["status"] == "current")
            assert row["status"] != "current" or row["phone"] in live[row["person_id"]].split(";")
    written = json.loads((tmp_path / "settings.json").read_text("utf-8"))
    assert written == {"profile": "harsh", **PROFILES["harsh"].as_dict()}
    assert SampleSettings.from_dict(written) == PROFILES["harsh"]


def test_legacy_profile_writes_the_old_generators_bytes(tmp_path: Path) -> None:
    # Digests of the files the generator wrote before the knobs (commit 3cfd98f), same arguments.
    write_sample(tmp_path, 500, seed=7, headers="zh", encoding="gb18030", settings=PROFILES["legacy"])
    digests = {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("bank.csv", "court.csv")
    }
    assert digests == {
        "bank.csv": "8a321a35303fa79576903f5c57376a49183fc1b22f068c6176f28b342e057722",
        "court.csv": "6f719110c80904fe15c6fa86c9adaaa8c2ff0741a87263e5179660defa21e70d",
    }


def test_same_seed_same_bytes_under_every_profile(tmp_path: Path) -> None:
    for name, settings in PROFILES.items():
        write_sample(tmp_path / name / "a", 150, seed=4, settings=settings)
        write_sample(tmp_path / name / "b", 150, seed=4, settings=settings)
        for file in sorted((tmp_path / name / "a").iterdir()):
            assert file.read_bytes() == (tmp_path / name / "b" / file.name).read_bytes(), (name, file.name)
    assert (tmp_path / "harsh/a/court.csv").read_bytes() != (tmp_path / "clean/a/court.csv").read_bytes()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONTACTFIX), "sample", *args], capture_output=True, text=True, check=False)


def test_cli_sets_every_knob(tmp_path: Path) -> None:
    result = _run(
        "--debtors", "120", "--out", str(tmp_path / "cli"), "--seed", "3", "--profile", "clean",
        "--filing-age-years", "2-4", "--change-age-years", "life", "--recorded-lag-years", "0-0.5",
        "--copied-bank-number", "0.2", "--third-party-number", "0.15", "--employer-share", "0.3",
        "--two-live-numbers", "0.05", "--lost-on", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = SampleSettings(
        filing_age_years=(2.0, 4.0),
        change_age_years=None,
        recorded_lag_years=(0.0, 0.5),
        copied_bank_number=0.2,
        third_party_number=0.15,
        employer_share=0.3,
        two_live_numbers=0.05,
        lost_on=0.0,
    )
    written = json.loads((tmp_path / "cli" / "settings.json").read_text("utf-8"))
    assert SampleSettings.from_dict(written) == expected and written["profile"] == "custom"
    write_sample(tmp_path / "api", 120, seed=3, settings=expected)
    for name in ("bank.csv", "court.csv", "truth.csv", "phones.csv", "settings.json"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes(), name
    assert (tmp_path / "cli" / "bank.csv").read_text("utf-8").splitlines()[0].endswith(",product")
    # A named profile alone writes exactly its settings.
    assert _run("--debtors", "20", "--out", str(tmp_path / "legacy"), "--profile", "legacy").returncode == 0
    legacy = json.loads((tmp_path / "legacy" / "settings.json").read_text("utf-8"))
    assert legacy["profile"] == "legacy" and SampleSettings.from_dict(legacy) == PROFILES["legacy"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--filing-age-years", "6-1"], "--filing-age-years"),
        (["--change-age-years", "soon"], "--change-age-years"),
        (["--two-live-numbers", "2"], "--two-live-numbers"),
        (["--lost-on", "-0.1"], "--lost-on"),
        (["--copied-bank-number", "0.8", "--third-party-number", "0.5"], "--copied-bank-number"),
        (["--profile", "kind"], "--profile"),
    ],
)
def test_cli_rejects_bad_knobs(tmp_path: Path, args: list[str], option: str) -> None:
    result = _run("--debtors", "5", "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2 and option in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_settings_validate_and_parse() -> None:
    assert (
        parse_range("1-6") == (1.0, 6.0)
        and parse_range("2") == (2.0, 2.0)
        and parse_range("0.5-1") == (0.5, 1)
    )
    for text in ("6-1", "a-b", "-1", ""):
        with pytest.raises(ValueError):
            parse_range(text)
    for bad in (
        {"third_party_number": 1.2},
        {"filing_age_years": (3.0, 2.0)},
        {"filing_age_years": (0.0, 0.0)},
        {"copied_bank_number": 0.7, "third_party_number": 0.4},
    ):
        with pytest.raises(ValueError):
            REALISTIC.replace(**bad)
