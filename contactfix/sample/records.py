"""From persons to rows: a bank's batch of lost debtors and a court's party export, noise recorded.

Debtors come first (person indexes 0..N-1), then as many court-only people. Every row remembers
its person, the corruptions applied to it and what its phone is to the person, so tests and
benchmarks can check the files against exactly what was generated. How real the rows are (filing
ages, number changes, copied and third-party numbers, second mobiles, ``lost_on``) is set by
:class:`~contactfix.sample.settings.SampleSettings`; a knob that is off draws nothing, so the
``legacy`` settings replay the first generator's random stream exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

from contactfix.sample import noise
from contactfix.sample.people import (
    AREA_CODES,
    AS_OF,
    Dice,
    Namesake,
    Person,
    PersonFactory,
    Reference,
    load_reference,
)
from contactfix.sample.settings import REALISTIC, SampleSettings

_ADULT_DAYS = 18 * 365 + 5
BORN_1980 = date(1980, 1, 1).toordinal()

BANK_FIELDS = (
    "id", "name", "id_number", "birth_date", "gender", "phone", "address",
    "contract_number", "amount", "product",
)  # fmt: skip
# Written after BANK_FIELDS when the settings ask for it (SampleSettings.lost_on > 0).
LOST_ON_FIELD = "lost_on"
COURT_FIELDS = (
    "id",
    "case_number",
    "role",
    "filed_on",
    "name",
    "id_number",
    "birth_date",
    "gender",
    "phone",
    "address",
)

# Choices with their cumulative weights.
_DEBTOR_CASES = ((0, 1, 2, 3, 4), (25, 55, 77, 90, 100))  # ≈75% of debtors are in at least one case
_COURT_ONLY_CASES = ((1, 2, 3, 4), (40, 70, 90, 100))
_ROLES = (("被告", "被执行人", "原告", "第三人"), (75, 87, 95, 100))
_PRODUCTS = (("信用卡", "个人消费贷款", "个人经营贷款", "汽车贷款", "住房按揭贷款"), (40, 70, 85, 95, 100))
_COMPANY_PRODUCTS = ("流动资金贷款", "小微企业经营贷款")
_COMPANY_SHARE = 0.03
_NAMESAKE_SHARE = 0.03  # of court-only people: same name, birth year and county as a debtor
_COPARTY_SHARE = 0.08  # of cases: the previous person is a co-party under the same case number
_HOMOPHONE_DRAW = 0.07  # drawn for every row; ≈43% of names have a confusable character: ≈3%
_DEFENDANTS = ("被告", "被执行人")
_SECOND_SHARE = 0.5  # of filings made while a second mobile is live, those that carry the second

# What a number written on a row is to the row's person (truth.csv ``phone_status``, phones.csv
# ``status``). A number can be several; the first that applies wins.
PHONE_STATUSES = ("current", "bank_lost", "stale", "landline", "relative", "employer", "shared", "malformed")


def bank_fields(settings: SampleSettings) -> tuple[str, ...]:
    """The columns of bank.csv under ``settings``: :data:`BANK_FIELDS`, then ``lost_on`` if asked for."""
    return (*BANK_FIELDS, LOST_ON_FIELD) if settings.lost_on else BANK_FIELDS


def phone_status(person: Person, number: str, lost: str) -> str:
    """What ``number`` (national digits) is to ``person``, whose bank lost them on ``lost`` (or "").

    ``current``: live today (the main or second mobile); ``bank_lost``: the number the bank's batch
    holds, no longer theirs; ``stale``: another of their former mobiles; ``landline``: their home
    fixed line; ``relative`` and ``employer``: a third party's; ``shared``: none of theirs (a court
    switchboard or a lawyer's mobile many records carry).
    """
    second = person.second_phone
    if number == person.phones[-1][1] or (second is not None and number == second[1]):
        return "current"
    if number == lost:
        return "bank_lost"
    if any(number == n for _, n in person.phones):
        return "stale"
    if number == person.landline:
        return "landline"
    if number and number == person.relative:
        return "relative"
    if number and number == person.employer:
        return "employer"
    return "shared"


@dataclass(frozen=True, slots=True)
class BankRow:
    """One row of bank.csv: values in :func:`bank_fields` order, and the corruptions applied.

    ``lost_phone`` is the number the row was made from (the one the bank lost the debtor on, before
    any corruption); ``phone_status`` what the written phone is to the person (see :func:`phone_status`).
    """

    person: Person
    values: tuple[str, ...]
    noise: tuple[str, ...]
    lost_phone: str = ""
    phone_status: str = ""


@dataclass(frozen=True, slots=True)
class CourtRow:
    """One party of one case in court.csv: values in :data:`COURT_FIELDS` order without ``id``.

    ``sort_key`` (filing date, court, case type, sequence) orders the export as courts list it;
    ``phone_status`` is what the written phone is to the person (see :func:`phone_status`).
    """

    person: Person
    sort_key: str
    values: tuple[str, ...]
    noise: tuple[str, ...]
    phone_status: str = ""


@dataclass(frozen=True, slots=True)
class PersonRecords:
    """A person and the rows generated with them (court rows may include a co-party's row)."""

    person: Person
    bank: BankRow | None
    court: tuple[CourtRow, ...]


@dataclass(frozen=True, slots=True)
class _Case:
    number: str
    key: str
    filed: int


@cache
def reference_data() -> Reference:
    """The reference data, loaded once per process."""
    return load_reference()


def generate_records(
    debtors: int, seed: int, settings: SampleSettings = REALISTIC
) -> Iterator[PersonRecords]:
    """Every person of the world for ``seed`` with their rows: ``debtors`` debtors, then court-only people."""
    return _World(debtors, seed, settings).people()


def _days(years: float) -> int:
    return round(years * 365)


class _World:
    def __init__(self, debtors: int, seed: int, settings: SampleSettings) -> None:
        self.debtors = debtors
        self.settings = settings
        self.rng = Dice(seed)
        ref = reference_data()
        # Main mobiles take slots 4i..4i+3 of the 2N persons; second and third-party ones the next 8N.
        self.factory = PersonFactory(
            ref, self.rng, phone_key=self.rng.below(10**6), settings=settings, extra_slots=8 * debtors
        )
        self.first_filing = AS_OF - _days(settings.filing_age_years[1])
        self.last_filing = AS_OF - _days(settings.filing_age_years[0])
        self.lag = (_days(settings.recorded_lag_years[0]), _days(settings.recorded_lag_years[1]))
        self.counties = {c.code: c for c in ref.counties}
        self.docket: dict[tuple[str, str, int], int] = {}
        # A court switchboard or a lawyer's mobile that many unrelated parties' records carry.
        self.shared: list[tuple[str, int]] = []
        for j in range(max(3, debtors // 800)):
            if j % 2:
                self.shared.append((self.factory.mobile(10**8 - 1 - j), 0))
            else:
                province = self.rng.pick(sorted(AREA_CODES))
                number = self.factory.landline(province, switchboard=True)
                self.shared.append((number, len(AREA_CODES[province][0])))

    def people(self) -> Iterator[PersonRecords]:
        rng = self.rng
        sources: list[Namesake] = []
        previous: Person | None = None
        previous_lost = ""
        for index in range(2 * self.debtors):
            debtor = index < self.debtors
            company = rng.random() < _COMPANY_SHARE
            namesake = None
            if not debtor and not company and sources and rng.random() < _NAMESAKE_SHARE:
                namesake = rng.pick(sources)
            person = self.factory.person(index, debtor=debtor, company=company, namesake=namesake)
            if debtor and person.birth is not None:
                year = date.fromordinal(person.birth).year
                county = self.counties[person.id_number[:6]]
                sources.append(Namesake(person.name, person.family_len, person.gender, year, county))
            bank = self._bank_row(person, index) if debtor else None
            lost = bank.lost_phone if bank else ""
            cases = rng.weighted(*(_DEBTOR_CASES if debtor else _COURT_ONLY_CASES))
            tags = ("namesake",) if namesake else ()
            court = tuple(self._court_rows(person, lost, previous, previous_lost, cases, tags))
            yield PersonRecords(person, bank, court)
            previous, previous_lost = person, lost

    def _bank_row(self, person: Person, index: int) -> BankRow:
        rng = self.rng
        first = person.phones[0][0]
        # The loan predates the last change of phone: that is why the bank lost the debtor.
        until = person.phones[-1][0] - 1 if len(person.phones) > 1 else AS_OF - 365
        signed = rng.between(first, max(first, until))
        lost = person.phone_at(signed)
        phone, id_number, tags = lost, person.id_number, []
        r = rng.random()
        if r < 0.003:
            tags.append("name_only")
        elif r < 0.008 and not person.is_company:
            id_number = noise.break_checksum(id_number, rng)
            tags.append("bad_checksum")
        elif r < 0.013:
            phone = noise.drop_digit(phone, rng)
            tags.append("short_phone")
        elif r < 0.043:
            id_number = ""
            tags.append("id_missing")
        elif r < 0.073:
            phone = ""
            tags.append("phone_missing")
        elif _older(person) and rng.random() < 0.05:
            id_number = noise.to_15_digits(id_number)
            tags.append("id_15")
        reference = f"CF{index + 1:07d}"
        with_lost_on = bool(self.settings.lost_on)
        if tags == ["name_only"]:
            blank = [""] * (9 if with_lost_on else 8)
            return BankRow(person, (reference, person.name, *blank), tuple(tags), lost, "")
        if person.is_company:
            product, amount = rng.pick(_COMPANY_PRODUCTS), rng.lognormvariate(13.0, 1.0)
        else:
            product, amount = rng.weighted(*_PRODUCTS), rng.lognormvariate(10.0, 1.0)
        amount_text = noise.amount_text(round(amount, 2), rng)
        if "," in amount_text:
            tags.append("amount_grouped")
        values: tuple[str, ...] = (
            reference, person.name, id_number, _iso(person.birth), person.gender, phone,
            person.address_at(signed).full, f"HT{date.fromordinal(signed).year}{index + 1:07d}", amount_text,
            product,
        )  # fmt: skip
        if with_lost_on:
            values = (*values, self._lost_on(person, signed))
        status = phone_status(person, phone, lost) if phone else ""
        return BankRow(person, values, tuple(tags), lost, "malformed" if "short_phone" in tags else status)

    def _lost_on(self, person: Person, signed: int) -> str:
        """When the bank lost contact: a month to a year after its number stopped being the debtor's
        (or, if it never did, some day after the loan: they stopped answering); blank for some rows."""
        rng = self.rng
        if rng.random() >= self.settings.lost_on:
            return ""
        changed = next((since for since, _ in person.phones if since > signed), None)
        if changed is not None:
            day = changed + rng.between(30, 365)
        else:
            day = rng.between(min(signed + 30, AS_OF - 1), AS_OF - 1)
        return _iso(min(day, AS_OF - 1))

    def _court_rows(
        self,
        person: Person,
        lost: str,
        previous: Person | None,
        previous_lost: str,
        cases: int,
        tags: tuple[str, ...],
    ) -> Iterator[CourtRow]:
        rng = self.rng
        earliest = self.first_filing
        if person.birth is not None:
            earliest = max(earliest, person.birth + _ADULT_DAYS)
        latest = max(self.last_filing, earliest)
        for _ in range(cases):
            filed = rng.between(earliest, latest)
            role = rng.weighted(*_ROLES)
            # Cases are heard where the party lives, sometimes where it first lived.
            county = person.address_at(filed).county if rng.random() < 0.85 else person.addresses[0].county
            case = self._open_case(county, filed, role)
            yield self._court_row(person, lost, case, role, tags)
            if previous is not None and rng.random() < _COPARTY_SHARE and _adult_on(previous, filed):
                co_role = role if role in _DEFENDANTS else "第三人"
                yield self._court_row(previous, previous_lost, case, co_role, ("co_party",))

    def _open_case(self, county: str, filed: int, role: str) -> _Case:
        rng = self.rng
        if role == "被执行人":
            kind, court = "执", noise.COURT_PROVINCES[county[:2]] + county[2:]
        elif rng.random() < 0.07:
            # Appeals are heard by the intermediate court of the city.
            kind, court = "民终", noise.COURT_PROVINCES[county[:2]] + county[2:4]
        else:
            kind, court = "民初", noise.COURT_PROVINCES[county[:2]] + county[2:]
        year = date.fromordinal(filed).year
        # Sequences only grow within a court, year and case type, so case numbers never repeat.
        sequence = self.docket.get((court, kind, year), 0) + rng.between(1, 40)
        self.docket[(court, kind, year)] = sequence
        number = noise.case_number(year, court, kind, sequence, rng)
        return _Case(number, f"{_iso(filed)}|{court}|{kind}|{sequence:06d}", filed)

    def _court_row(
        self, person: Person, lost: str, case: _Case, role: str, tags: tuple[str, ...]
    ) -> CourtRow:
        rng, applied = self.rng, list(tags)
        name = person.name
        if not person.is_company and rng.random() < _HOMOPHONE_DRAW:
            variant = noise.homophone(name, person.family_len, rng)
            if variant is not None:
                name = variant
                applied.append("homophone")
        if rng.random() < 0.15:
            name = noise.to_traditional(name)
            applied.append("traditional")
        id_number = self._court_id(person, applied)
        birth = "" if person.birth is None or rng.random() < 0.6 else _iso(person.birth)
        gender = "" if rng.random() < 0.15 else person.gender
        phone, status = self._court_phone(person, lost, case.filed, role, applied)
        address = person.address_at(case.filed)
        r = rng.random()
        if r < 0.03:
            where = ""
            applied.append("address_blank")
        elif r < 0.43:
            where = address.short
            applied.append("address_short")
        else:
            where = address.full
        values = (case.number, role, _iso(case.filed), name, id_number, birth, gender, phone, where)
        return CourtRow(person, f"{case.key}|{person.person_id}", values, tuple(applied), status)

    def _court_id(self, person: Person, applied: list[str]) -> str:
        r = self.rng.random()
        if r < 0.25:
            applied.append("id_missing")
            return ""
        if person.is_company:
            return person.id_number
        if r < 0.45:
            applied.append("id_masked")
            return noise.mask_id(person.id_number, self.rng)
        # 0.05 / 0.55: about 5% of all rows of older people carry the 15-digit form.
        if _older(person) and self.rng.random() < 0.09:
            applied.append("id_15")
            return noise.to_15_digits(person.id_number)
        return person.id_number

    def _court_phone(
        self, person: Person, lost: str, filed: int, role: str, applied: list[str]
    ) -> tuple[str, str]:
        """The phone a filing carries for ``person``, as written, and its status."""
        rng, settings = self.rng, self.settings
        # Who supplied the number: a third party, the plaintiff's loan file, or (below) the filing.
        # Drawn only when a knob asks for it, so that with both off the stream is the legacy one.
        if settings.third_party_number or settings.copied_bank_number:
            u = rng.random()
            if u < settings.third_party_number:
                if person.relative:
                    return self._third_party(person, applied)
            elif u < settings.third_party_number + settings.copied_bank_number and role in _DEFENDANTS:
                applied.append("phone_copied")
                # Our bank's file holds the number it lost the debtor on; another lender's, the number
                # the person had when they borrowed from it.
                number = lost or person.phone_at(
                    rng.between(person.phones[0][0], max(person.phones[0][0], filed))
                )
                return self._styled(number, applied), phone_status(person, number, lost)
        r = rng.random()
        if r < 0.10:
            applied.append("phone_blank")
            return "", ""
        if r < 0.15:
            applied.append("phone_fixed")
            area_len = len(AREA_CODES[person.addresses[0].county[:2]][0])
            return noise.style_landline(person.landline, area_len, rng), phone_status(
                person, person.landline, lost
            )
        if r < 0.16:
            applied.append("phone_shared")
            number, area_len = rng.pick(self.shared)
            return (noise.style_landline(number, area_len, rng) if area_len else number), "shared"
        day = filed
        if self.lag[1]:
            # Taken down some time before the filing; never before the person's first mobile.
            day = max(filed - rng.between(*self.lag), min(filed, person.phones[0][0]))
        number = person.phone_at(day)
        if not number:
            applied.append("phone_blank")
            return "", ""
        if number != person.phone_at(filed):
            applied.append("phone_lagged")
        second = person.second_at(day)
        if second and rng.random() < _SECOND_SHARE:
            applied.append("phone_second")
            number = second
        return self._styled(number, applied), phone_status(person, number, lost)

    def _third_party(self, person: Person, applied: list[str]) -> tuple[str, str]:
        rng = self.rng
        if rng.random() < self.settings.employer_share:
            applied.append("phone_employer")
            if person.employer_area:
                return noise.style_landline(person.employer, person.employer_area, rng), "employer"
            return self._styled(person.employer, applied), "employer"
        applied.append("phone_relative")
        return self._styled(person.relative, applied), "relative"

    def _styled(self, number: str, applied: list[str]) -> str:
        if self.rng.random() < 0.35:
            applied.append("phone_styled")
            return noise.style_mobile(number, self.rng)
        return number


def _older(person: Person) -> bool:
    return person.birth is not None and person.birth < BORN_1980


def _adult_on(person: Person, day: int) -> bool:
    return person.birth is None or person.birth + _ADULT_DAYS <= day


def _iso(day: int | None) -> str:
    return "" if day is None else date.fromordinal(day).isoformat()
