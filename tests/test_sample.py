"""The generated world: valid identifiers and phones, the noise rates asked for, honest truth.

Rates are measured over 2,000 debtors (about 7,600 court rows). Each corruption is checked twice:
its rate from the row's noise tags, and that the written value really carries it. Every test runs on
the ``legacy`` world and on the ``realistic`` default; tests/test_sample_realism.py tests the knobs.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date

import phonenumbers
import pytest
from opencc import OpenCC

from contactfix.sample import AS_OF, PROFILES, CourtRow, PersonRecords, SampleSettings, generate_records
from contactfix.sample.noise import HOMOPHONES
from contactfix.sample.people import AREA_CODES, MOBILE_PREFIXES, Dice, scramble
from contactfix.sample.records import BORN_1980, COURT_FIELDS

DEBTORS = 2000
_T2S = OpenCC("t2s")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_COURT = {name: i for i, name in enumerate(COURT_FIELDS[1:])}


def _id_ok(value: str) -> bool:
    """GB 11643, written out again here so the test does not trust the code under test."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(value[:17], _WEIGHTS, strict=True)) % 11] == value[17]


def _credit_code_ok(value: str) -> bool:
    if len(value) != 18 or any(c not in _USCC for c in value):
        return False
    total = sum(_USCC.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    return _USCC[(31 - total % 31) % 31] == value[17]


def _valid_cn(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number, "CN"))


def _court(row: CourtRow, field: str) -> str:
    return row.values[_COURT[field]]


@pytest.fixture(scope="module", params=["legacy", "realistic"])
def settings(request: pytest.FixtureRequest) -> SampleSettings:
    return PROFILES[request.param]


@pytest.fixture(scope="module")
def world(settings: SampleSettings) -> list[PersonRecords]:
    return list(generate_records(DEBTORS, seed=11, settings=settings))


@pytest.fixture(scope="module")
def court_rows(world: list[PersonRecords]) -> list[CourtRow]:
    return [row for records in world for row in records.court]


def _rate(rows: list[CourtRow], tag: str) -> float:
    return sum(tag in row.noise for row in rows) / len(rows)


def test_population(world: list[PersonRecords], court_rows: list[CourtRow]) -> None:
    debtors = [r for r in world if r.bank is not None]
    assert len(debtors) == DEBTORS and len(world) == 2 * DEBTORS  # as many court-only people as debtors
    in_cases = sum(any(row.person is r.person for row in r.court) for r in debtors)
    assert 0.72 <= in_cases / DEBTORS <= 0.78
    assert all(any(row.person is r.person for row in r.court) for r in world if r.bank is None)
    assert 0.02 <= sum(r.person.is_company for r in world) / len(world) <= 0.04
    assert 3.5 <= len(court_rows) / DEBTORS <= 4.1  # 250,000 debtors give about a million court rows
    roles = Counter(_court(row, "role") for row in court_rows)
    assert roles.most_common(1)[0][0] == "被告" and set(roles) == {"被告", "被执行人", "原告", "第三人"}


def test_identifiers_are_valid_and_unique(world: list[PersonRecords]) -> None:
    ids = [r.person.id_number for r in world]
    assert len(set(ids)) == len(ids)
    for records in world:
        person = records.person
        if person.is_company:
            assert _credit_code_ok(person.id_number), person.id_number
            continue
        assert _id_ok(person.id_number), person.id_number
        born = date.fromordinal(person.birth or 0)
        assert date(1950, 1, 1) <= born <= date(2002, 12, 31)
        assert person.id_number[6:14] == born.strftime("%Y%m%d")
        assert int(person.id_number[16]) % 2 == (1 if person.gender == "男" else 0)


def test_phones_are_valid_unique_and_dated(world: list[PersonRecords], court_rows: list[CourtRow]) -> None:
    mobiles = [number for r in world for _, number in r.person.phones]
    mobiles += [r.person.second_phone[1] for r in world if r.person.second_phone]
    mobiles += [n for r in world for n in (r.person.relative, r.person.employer) if len(n) == 11]
    assert len(set(mobiles)) == len(mobiles)
    assert all(_valid_cn(number) for number in mobiles)
    assert all(_valid_cn("0" + r.person.landline) for r in world)
    for r in world:
        sinces = [since for since, _ in r.person.phones]
        assert sinces == sorted(sinces) and 1 <= len(sinces) <= 4 and sinces[-1] < AS_OF
    # Every phone a court row carries is a real number, however it is written.
    written = [_court(row, "phone") for row in court_rows if _court(row, "phone")]
    assert all(_valid_cn(text.replace("(+86)", "+86")) for text in written)


def test_mobile_prefixes_and_area_codes_always_valid() -> None:
    dice = Dice(5)
    for prefix, _ in MOBILE_PREFIXES:
        assert all(_valid_cn(f"{prefix}{dice.below(10**8):08d}") for _ in range(50)), prefix
    for area, digits in AREA_CODES.values():
        local = [
            f"{first}{dice.below(10 ** (digits - 1)):0{digits - 1}d}"
            for first in range(2, 8)
            for _ in range(20)
        ]
        assert all(_valid_cn(f"0{area}{number}") for number in local), area


def test_scramble_is_a_bijection() -> None:
    outputs = {scramble(n, 4242) for n in range(200_000)}
    assert len(outputs) == 200_000 and all(0 <= n < 10**8 for n in outputs)
    assert {scramble(n, 4243) for n in range(1000)} != {scramble(n, 4242) for n in range(1000)}


def test_bank_rows(world: list[PersonRecords]) -> None:
    rows = [r.bank for r in world if r.bank is not None]
    tags = Counter(tag for row in rows for tag in row.noise)
    assert 0.015 <= tags["id_missing"] / DEBTORS <= 0.045
    assert 0.015 <= tags["phone_missing"] / DEBTORS <= 0.045
    for malformed in ("bad_checksum", "short_phone", "name_only"):
        assert 1 <= tags[malformed] <= 0.015 * DEBTORS, malformed
    older = [row for row in rows if not row.person.is_company and (row.person.birth or 0) < BORN_1980]
    assert 0.025 <= sum("id_15" in row.noise for row in older) / len(older) <= 0.08
    for row in rows:
        person, (_, name, id_number, birth, _, phone, address, *_rest) = row.person, row.values
        assert name == person.name
        if "name_only" in row.noise:
            assert not any(row.values[2:])
        elif "bad_checksum" in row.noise:
            assert id_number[:17] == person.id_number[:17] and not _id_ok(id_number)
        elif "id_15" in row.noise:
            assert person.birth is not None and person.birth < BORN_1980
            assert id_number == person.id_number[:6] + person.id_number[8:17]
        elif "id_missing" in row.noise:
            assert id_number == ""
        else:
            assert id_number == person.id_number
        if "short_phone" in row.noise:
            assert len(phone) == 10
        elif phone:
            # The bank's phone is one the debtor had, never a later one: that is why it is stale.
            assert phone in [n for _, n in person.phones]
            if len(person.phones) > 1:
                assert phone != person.current_phone
        assert address == "" or address in [a.full for a in person.addresses]
        assert birth == ("" if person.birth is None or "name_only" in row.noise else _iso(person.birth))


def test_court_identifier_noise(court_rows: list[CourtRow]) -> None:
    assert 0.22 <= _rate(court_rows, "id_missing") <= 0.28
    assert 0.17 <= _rate(court_rows, "id_masked") <= 0.23
    older = [row for row in court_rows if not row.person.is_company and (row.person.birth or 0) < BORN_1980]
    assert 0.03 <= _rate(older, "id_15") <= 0.07
    forms: Counter[str] = Counter()
    for row in court_rows:
        written, true = _court(row, "id_number"), row.person.id_number
        if "id_missing" in row.noise:
            assert written == ""
        elif "id_masked" in row.noise:
            assert len(written) == 18 and "*" in written
            assert all(w in ("*", t) for w, t in zip(written, true, strict=True))
            forms[re.sub(r"[0-9X]", "d", written)] += 1
        elif "id_15" in row.noise:
            assert written == true[:6] + true[8:17] and true[6:8] == "19"
        else:
            assert written == true
    # The published mask forms, 350103********1234 and 3501031990******12 among them.
    assert {"dddddd********dddd", "dddddddddd******dd"} <= set(forms)


def test_court_name_noise(court_rows: list[CourtRow]) -> None:
    people = [row for row in court_rows if not row.person.is_company]
    assert 0.13 <= _rate(court_rows, "traditional") <= 0.17
    assert 0.02 <= _rate(people, "homophone") <= 0.04
    changed = 0
    for row in court_rows:
        written, true = _court(row, "name"), row.person.name
        simplified = _T2S.convert(written) if "traditional" in row.noise else written
        changed += simplified != written
        if "homophone" in row.noise:
            diffs = [(i, a, b) for i, (a, b) in enumerate(zip(true, simplified, strict=True)) if a != b]
            assert len(diffs) == 1 and HOMOPHONES[diffs[0][1]] == diffs[0][2]
            assert diffs[0][0] >= row.person.family_len  # only the given name varies
        else:
            assert simplified == true
    assert changed > 0.5 * sum("traditional" in row.noise for row in court_rows)


def _digits(written: str) -> str:
    digits = re.sub(r"\D", "", written.translate({0xFF10 + i: 48 + i for i in range(10)}))
    return digits.removeprefix("0086").removeprefix("86") if len(digits) > 11 else digits


_OTHERS = {"phone_copied", "phone_relative", "phone_employer"}  # numbers the filing did not take down


def test_court_phone_noise(world: list[PersonRecords], court_rows: list[CourtRow]) -> None:
    # Rates over the rows whose number the filing took down itself (all of them in legacy).
    own = [row for row in court_rows if not _OTHERS & set(row.noise)]
    assert 0.005 <= _rate(own, "phone_shared") <= 0.016
    assert 0.03 <= _rate(own, "phone_fixed") <= 0.07
    lost = {r.person.person_id: r.bank.lost_phone for r in world if r.bank is not None}
    shared: dict[str, set[str]] = defaultdict(set)
    for row in court_rows:
        written = _court(row, "phone")
        digits = _digits(written)
        filed = date.fromisoformat(_court(row, "filed_on")).toordinal()
        person = row.person
        if "phone_shared" in row.noise:
            shared[digits].add(person.person_id)
        elif "phone_fixed" in row.noise:
            assert digits == "0" + person.landline
        elif "phone_blank" in row.noise:
            assert written == ""
        elif "phone_copied" in row.noise:
            # From the plaintiff's file: the bank's lost number, or a number the person had.
            assert (
                digits == lost[person.person_id]
                if person.person_id in lost
                else digits in dict(person.phones).values()
            )
            assert _court(row, "role") in ("被告", "被执行人")
        elif "phone_relative" in row.noise:
            assert digits == person.relative
        elif "phone_employer" in row.noise:
            assert digits == (("0" + person.employer) if person.employer_area else person.employer)
        elif "phone_second" in row.noise:
            assert person.second_phone is not None and digits == person.second_phone[1]
            assert person.second_phone[0] <= filed
        elif "phone_lagged" in row.noise:
            # Taken down before the filing: an earlier number of the person.
            assert digits != person.phone_at(filed) and digits in dict(person.phones).values()
            assert [n for _, n in person.phones].index(digits) < [n for _, n in person.phones].index(
                person.phone_at(filed)
            )
        else:
            # The number in use when the case was filed: later cases carry later phones.
            assert digits == person.phone_at(filed)
        landline = {"phone_shared", "phone_fixed"} & set(row.noise) or (
            "phone_employer" in row.noise and person.employer_area
        )
        if written and not landline:
            assert (written != digits) == ("phone_styled" in row.noise)
    assert shared and all(len(people) >= 3 for people in shared.values())
    mobiles = [
        row
        for row in court_rows
        if not {"phone_shared", "phone_fixed", "phone_blank", "phone_employer"} & set(row.noise)
    ]
    assert 0.30 <= _rate(mobiles, "phone_styled") <= 0.40


def test_court_addresses_dates_and_case_numbers(settings: SampleSettings, court_rows: list[CourtRow]) -> None:
    assert 0.37 <= _rate(court_rows, "address_short") <= 0.43
    filed = [date.fromisoformat(_court(row, "filed_on")).toordinal() for row in court_rows]
    newest, oldest = settings.filing_age_years
    assert min(filed) >= AS_OF - round(oldest * 365) and max(filed) <= AS_OF - round(newest * 365)
    assert max(filed) >= AS_OF - round(newest * 365) - 30 and min(filed) <= AS_OF - round(oldest * 365) + 30
    # Spread over the window: six years and a half in legacy (to the export day), six when a year old.
    assert len({date.fromordinal(day).year for day in filed}) == (7 if newest == 0 else 6)
    cases: dict[str, set[str]] = defaultdict(set)
    for row, day in zip(court_rows, filed, strict=True):
        address = row.person.address_at(day)
        written = _court(row, "address")
        if "address_short" in row.noise:
            # Without province and city: the county comes first.
            assert written == address.short and address.full.endswith(written) and written != address.full
        elif "address_blank" not in row.noise:
            assert written == address.full
        number = _court(row, "case_number")
        halfwidth = number.translate({0xFF10 + i: 48 + i for i in range(10)})
        match = re.fullmatch(
            r"[（(〔](\d{4})[）)〕]([\u4e00-\u9fff])(\d{2}|\d{4})(民初|民终|执)(\d+)号", halfwidth
        )
        assert match, number
        assert int(match[1]) == date.fromordinal(day).year
        assert (match[4] == "执") == (_court(row, "role") == "被执行人")
        cases[halfwidth.translate(str.maketrans("(〔)〕", "（（））"))].add(row.sort_key[:10])
    assert all(len(days) == 1 for days in cases.values())  # one case number, one case
    numbers = [_court(row, "case_number") for row in court_rows]
    assert 0.02 <= sum(number[1] in "０１２３４５６７８９" for number in numbers) / len(numbers) <= 0.08
    assert 0.2 <= sum(number[0] != "（" for number in numbers) / len(numbers) <= 0.3


def test_namesakes_and_co_parties(world: list[PersonRecords], court_rows: list[CourtRow]) -> None:
    debtors = {
        (
            r.person.name,
            r.person.birth and date.fromordinal(r.person.birth).year,
            r.person.id_number[:6],
        ): r.person
        for r in world
        if r.bank is not None and not r.person.is_company
    }
    namesakes = {row.person.person_id: row.person for row in court_rows if "namesake" in row.noise}
    court_only = [r.person for r in world if r.bank is None and not r.person.is_company]
    assert 0.015 <= len(namesakes) / len(court_only) <= 0.045
    for person in namesakes.values():
        key = (person.name, person.birth and date.fromordinal(person.birth).year, person.id_number[:6])
        twin = debtors[key]
        assert twin.person_id != person.person_id and twin.is_debtor and not person.is_debtor
        assert twin.id_number != person.id_number
        assert not {n for _, n in twin.phones} & {n for _, n in person.phones}
        assert person.addresses[0].county == twin.id_number[:6]
    co_parties = [row for row in court_rows if "co_party" in row.noise]
    assert 0.05 <= len(co_parties) / len(court_rows) <= 0.09
    by_case: dict[str, set[str]] = defaultdict(set)
    for row in court_rows:
        by_case[row.sort_key.rsplit("|", 1)[0]].add(row.person.person_id)
    assert sum(len(people) > 1 for people in by_case.values()) >= len(co_parties) * 0.9


def test_current_phone_is_the_last_one(world: list[PersonRecords]) -> None:
    for r in world:
        assert r.person.current_phone == r.person.phones[-1][1]
        assert r.person.phone_at(AS_OF) == r.person.current_phone
        assert r.person.phone_at(r.person.phones[0][0] - 1) == ""


def _iso(day: int) -> str:
    return date.fromordinal(day).isoformat()
