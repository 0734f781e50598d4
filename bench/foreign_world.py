"""The world behind a foreign set: people, their numbers over time, their relatives, employers and filings.

Every file cell of a set is written from these timelines at some date, and the answers are read off
the same timelines: nothing is inferred afterwards.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

import opencc
import phonenumbers

from bench.foreign_reference import Area, Reference

__all__ = [
    "AS_OF", "OUR_BANK", "CourtRow", "CourtWriter", "Debtor", "Employer", "Held", "Person", "SetProfile",
    "World", "check_digit", "make_debtors", "years_ago",
]  # fmt: skip

AS_OF = dt.date(2026, 12, 1)  # "today" of every set: filings and changes are dated before it
_YEAR = 365.25
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_MOBILE_PREFIXES = (
    ("130", 4), ("131", 4), ("132", 4), ("133", 3), ("134", 4), ("135", 7), ("136", 6), ("137", 6),
    ("138", 8), ("139", 8), ("147", 1), ("150", 4), ("151", 4), ("152", 4), ("153", 2), ("155", 3),
    ("156", 3), ("157", 2), ("158", 5), ("159", 5), ("166", 2), ("173", 2), ("176", 2), ("177", 2),
    ("178", 2), ("180", 3), ("181", 3), ("182", 3), ("183", 3), ("184", 1), ("185", 3), ("186", 4),
    ("187", 4), ("188", 4), ("189", 4), ("191", 1), ("198", 2), ("199", 2),
)  # fmt: skip
_PROVINCE_ABBREVIATIONS = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "内", "21": "辽", "22": "吉", "23": "黑",
    "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁", "41": "豫",
    "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "黔",
    "53": "云", "54": "藏", "61": "陕", "62": "甘", "63": "青", "64": "宁", "65": "新",
}  # fmt: skip
_OTHER_LENDERS = (
    "中国工商银行股份有限公司{city}分行", "中国建设银行股份有限公司{city}分行",
    "招商银行股份有限公司{city}分行",
    "{city}农村商业银行股份有限公司", "{city}市恒信小额贷款有限公司", "平安普惠融资担保有限公司",
    "马上消费金融股份有限公司", "中邮消费金融有限公司",
)  # fmt: skip
OUR_BANK = "东南商业银行股份有限公司{city}分行"


@dataclass(frozen=True)
class SetProfile:
    """What a set assumes about the world and how its two exports are written."""

    name: str
    about: str
    encoding: str = "utf-8-sig"
    bank_style: str = "cn"  # cn | cn_messy | en
    court_style: str = "cn"  # cn | cn_messy | cn_two_columns
    home_province: str = "35"  # the bank's region: most debtors live there
    p_home: float = 0.7
    p_second_change: float = 0.25  # a further change of number after the one that lost the bank
    p_two_live: float = 0.05  # a second number in use today beside the main one
    p_home_landline: float = 0.0  # a home landline: half of them still in use today
    p_in_court: float = 0.85  # the person is a party of at least one filing
    filings: tuple[float, ...] = (0.5, 0.3, 0.15, 0.05)  # P(1, 2, 3, 4 filings)
    filed_years: tuple[float, float] = (0.3, 6.0)  # filed this many years before AS_OF
    originated_years: tuple[float, float] = (3.0, 12.0)  # the bank's loan began this many years ago
    dropped_years: tuple[float, float] = (1.5, 8.0)  # the bank's number was dropped (after the loan)
    p_bank_plaintiff: float = 0.5  # our bank is the plaintiff
    p_copy_bank: float = 0.5  # ... and copies its own (lost) number into the filing
    p_stale: float = 0.3  # the filing knows the number as it was up to ``stale_years`` earlier
    stale_years: float = 2.0
    p_no_phone: float = 0.08
    p_relative_number: float = 0.08  # the person's row carries a relative's number (or adds it)
    p_employer_number: float = 0.04  # the person's row carries the employer's switchboard
    employers_per_debtor: float = 0.5  # fewer employers: a switchboard shared by more people
    p_typo: float = 0.0  # a digit mistyped in a filing's number
    p_codefendant: float = 0.15  # a relative is a party of the same case (guarantor, co-defendant)
    p_plaintiff_row: float = 0.15  # the plaintiff's own party row is in the export
    p_namesake: float = 0.05  # someone else of the same name has a filing
    strangers: float = 0.1  # unrelated parties, per debtor
    p_traditional: float = 0.0  # a court row's name in traditional characters
    p_old_id: float = 0.0  # a 15-digit ID (bank and court rows of people born before 2000)
    p_masked_id: float = 0.0  # a court row's ID masked as 350103********1234
    p_blank_id: float = 0.02  # a court row without an ID
    p_bank_employer_phone: float = 0.0  # the bank lists the employer's switchboard (单位电话)
    p_emergency_contact: float = 0.0  # the bank lists an emergency contact (紧急联系人, not a phone field)


# ---------------------------------------------------------------- people and their numbers


@dataclass
class Held:
    """A number a person held from ``start`` until ``end`` (None: still theirs today)."""

    number: str  # E.164
    start: dt.date
    end: dt.date | None


@dataclass
class Person:
    name: str
    name_traditional: str
    gender: str
    birth: dt.date
    id_number: str
    area: Area
    address: str
    numbers: list[Held] = field(default_factory=list)
    family: str = ""

    def numbers_on(self, day: dt.date) -> list[str]:
        """The numbers the person held on ``day``, the main (longest held) first."""
        held = [h for h in self.numbers if h.start <= day and (h.end is None or day < h.end)]
        return [h.number for h in sorted(held, key=lambda h: h.start)]

    def current(self) -> list[str]:
        return [h.number for h in self.numbers if h.end is None]


@dataclass
class Employer:
    name: str
    switchboard: str
    address: str


@dataclass
class Debtor:
    reference: str
    person: Person
    bank_number: str
    originated: dt.date
    lost_on: dt.date
    contract: str
    amount: str
    product: str
    employer: Employer
    relatives: list[tuple[str, Person]] = field(default_factory=list)  # (relation, person)


@dataclass
class CourtRow:
    case_number: str
    filed: dt.date
    name: str
    role: str
    person: Person | None  # None for a company (plaintiff)
    phones: list[str]
    address: str
    party_of: str  # a debtor reference, or "" for parties unrelated to any debtor
    party_kind: str  # self relative namesake plaintiff stranger
    court: str = ""  # e.g. 福州市鼓楼区人民法院


def check_digit(first17: str) -> str:
    """The resident ID's check digit (GB 11643: weights 7,9,10,… sum mod 11 → "10X98765432")."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, max(0, (last - first).days)))


def years_ago(years: float) -> dt.date:
    return AS_OF - dt.timedelta(days=round(years * _YEAR))


class World:
    """Draws people, numbers and companies for one set, never giving one number to two owners."""

    def __init__(self, profile: SetProfile, seed: int, reference: Reference) -> None:
        self.profile, self.ref = profile, reference
        self.rng = random.Random(f"{profile.name}:{seed}")
        self.taken: set[str] = set()
        self.ids: set[str] = set()
        home = [a for a in reference.areas if a.code.startswith(profile.home_province)]
        self.home_areas = home or list(reference.areas)
        self.prefixes = [p for p, _ in _MOBILE_PREFIXES]
        self.prefix_weights = [w for _, w in _MOBILE_PREFIXES]
        self.s2t = opencc.OpenCC("s2t")

    def area(self) -> Area:
        pool = self.home_areas if self.rng.random() < self.profile.p_home else self.ref.areas
        return self.rng.choice(pool)

    def mobile(self) -> str:
        while True:
            prefix = self.rng.choices(self.prefixes, self.prefix_weights)[0]
            number = f"+86{prefix}{self.rng.randrange(10**8):08d}"
            if number not in self.taken and phonenumbers.is_valid_number(phonenumbers.parse(number)):
                self.taken.add(number)
                return number

    def landline(self, area: Area) -> str:
        for attempt in range(50):
            digits = 8 if attempt < 25 else 7
            local = str(self.rng.randint(2, 8)) + "".join(
                str(self.rng.randrange(10)) for _ in range(digits - 1)
            )
            number = f"+86{area.dialing}{local}"
            if number not in self.taken and phonenumbers.is_valid_number(phonenumbers.parse(number)):
                self.taken.add(number)
                return number
        raise RuntimeError(f"no valid landline for area code {area.dialing}")

    def address(self, area: Area) -> str:
        street = self.rng.choice(area.streets)
        tail = self.rng.choice(
            (f"{self.rng.randint(1, 30)}号楼{self.rng.randint(1, 6)}单元{self.rng.randint(101, 1802)}室",
             f"{self.rng.choice('东西南北中')}街{self.rng.randint(1, 200)}号",
             f"{self.rng.choice('一二三四五六七八')}组{self.rng.randint(1, 90)}号")
        )  # fmt: skip
        return f"{area.province}{'' if area.city == area.province else area.city}{area.name}{street}{tail}"

    def name(self, family: str) -> tuple[str, str]:
        given, given_traditional = self.rng.choice(self.ref.given_names)
        family_traditional = self.ref.traditional_family.get(family) or self.s2t.convert(family)
        return family + given, family_traditional + given_traditional

    def person(
        self, *, born: tuple[int, int] = (1962, 2000), gender: str | None = None, family: str | None = None
    ) -> Person:
        rng = self.rng
        gender = gender or rng.choice("MF")
        area = self.area()
        while True:
            birth = _day_between(rng, dt.date(born[0], 1, 1), dt.date(born[1], 12, 31))
            sequence = rng.randrange(0, 500) * 2 + (1 if gender == "M" else 0)
            first17 = f"{area.code}{birth:%Y%m%d}{sequence:03d}"
            id_number = first17 + check_digit(first17)
            if id_number not in self.ids:
                self.ids.add(id_number)
                break
        family = family or self.rng.choices(self.ref.family_names, self.ref.family_weights)[0]
        name, traditional = self.name(family)
        return Person(name, traditional, gender, birth, id_number, area, self.address(area), family=family)

    def typo(self, number: str) -> str:
        """The number with one digit of its subscriber part mistyped or two adjacent ones swapped."""
        digits = list(number[3:])
        while True:
            at = self.rng.randrange(3, len(digits) - 1)
            wrong = digits.copy()
            if self.rng.random() < 0.5 and wrong[at] != wrong[at + 1]:
                wrong[at], wrong[at + 1] = wrong[at + 1], wrong[at]
            else:
                wrong[at] = self.rng.choice([d for d in "0123456789" if d != wrong[at]])
            typed = "+86" + "".join(wrong)
            if typed not in self.taken:
                self.taken.add(typed)
                return typed


def _numbers_for(world: World, person: Person, originated: dt.date) -> tuple[str, dt.date]:
    """Give ``person`` a timeline in which the number held at ``originated`` has since been dropped.

    Returns the bank's number (held at origination) and the day the person dropped it.
    """
    rng, profile = world.rng, world.profile
    bank_number = world.mobile()
    adult = person.birth + dt.timedelta(days=16 * 365)
    start = max(_day_between(rng, originated - dt.timedelta(days=8 * 365), originated), adult)
    if start - dt.timedelta(days=200) > adult:  # an earlier number, given up before the loan's
        earlier = _day_between(rng, start - dt.timedelta(days=10 * 365), start - dt.timedelta(days=200))
        person.numbers.append(Held(world.mobile(), max(earlier, adult), start))
    earliest = max(originated + dt.timedelta(days=60), years_ago(profile.dropped_years[1]))
    dropped = _day_between(rng, earliest, max(earliest, years_ago(profile.dropped_years[0])))
    person.numbers.append(Held(bank_number, start, dropped))
    changes = [dropped]
    if rng.random() < profile.p_second_change and (years_ago(0.1) - dropped).days > 200:
        changes.append(_day_between(rng, dropped + dt.timedelta(days=120), years_ago(0.1)))
    for begin, end in zip(changes, [*changes[1:], None], strict=True):
        person.numbers.append(Held(world.mobile(), begin, end))
    if rng.random() < profile.p_two_live:
        person.numbers.append(Held(world.mobile(), _day_between(rng, start, years_ago(0.2)), None))
    if rng.random() < profile.p_home_landline:
        since = _day_between(rng, start, years_ago(2))
        until = (
            None if rng.random() < 0.5 else _day_between(rng, since + dt.timedelta(days=200), years_ago(0.2))
        )
        person.numbers.append(Held(world.landline(person.area), since, until))
    return bank_number, dropped


def make_debtors(world: World, count: int) -> list[Debtor]:
    """``count`` debtors whose bank number has failed, each with relatives and an employer."""
    rng, profile = world.rng, world.profile
    employers = [
        Employer(
            f"{area.city}{rng.choice(('恒达', '华信', '鑫源', '宏图', '永安', '瑞丰', '金桥', '中天'))}"
            f"{rng.choice(('贸易', '建材', '物流', '电子', '食品', '纺织', '机械'))}有限公司",
            world.landline(area),
            world.address(area),
        )
        for area in (world.area() for _ in range(max(1, round(count * profile.employers_per_debtor))))
    ]
    debtors: list[Debtor] = []
    for at in range(count):
        person = world.person()
        of_age = person.birth + dt.timedelta(days=round(18 * _YEAR))
        first = max(years_ago(profile.originated_years[1]), of_age)
        originated = _day_between(rng, first, max(first, years_ago(profile.originated_years[0])))
        bank_number, dropped = _numbers_for(world, person, originated)
        debtor = Debtor(
            reference=f"WB{at + 1:08d}",
            person=person,
            bank_number=bank_number,
            originated=originated,
            lost_on=_day_between(rng, dropped + dt.timedelta(days=30), AS_OF - dt.timedelta(days=20)),
            contract=f"JK{originated:%Y}{person.area.code[:4]}{rng.randrange(10**6):06d}",
            amount=f"{rng.randint(8, 600) * 500 + rng.randrange(100) / 100:.2f}",
            product=rng.choice(
                ("个人消费贷款", "信用卡透支", "个人经营性贷款", "个人住房贷款", "汽车消费贷款")
            ),
            employer=rng.choice(employers),
        )
        spouse_gender = "F" if person.gender == "M" else "M"
        spouse = world.person(
            born=(person.birth.year - 5, min(person.birth.year + 5, 2002)), gender=spouse_gender
        )
        spouse.area, spouse.address = person.area, person.address
        spouse.numbers.append(Held(world.mobile(), years_ago(12), None))
        parent = world.person(born=(person.birth.year - 35, person.birth.year - 20), family=person.family)
        parent.numbers.append(Held(world.mobile(), years_ago(15), None))
        debtor.relatives = [("配偶", spouse), (rng.choice(("父亲", "母亲")), parent)]
        debtors.append(debtor)
    return debtors


# ---------------------------------------------------------------- court filings


class CourtWriter:
    """Court party rows for the debtors, their relatives, plaintiffs, namesakes and strangers."""

    def __init__(self, world: World) -> None:
        self.world, self.rng, self.profile = world, world.rng, world.profile
        self.rows: list[CourtRow] = []
        self.sequences: Counter[str] = Counter()
        self.courts: dict[str, str] = {}  # case number → the court's name (福州市鼓楼区人民法院)

    def case_number(self, area: Area, year: int, kind: str) -> str:
        court = _PROVINCE_ABBREVIATIONS[area.code[:2]] + area.code[2:6]
        key = f"{year}{court}{kind}"
        self.sequences[key] += self.rng.randint(1, 40)
        case = f"（{year}）{court}{kind}{self.sequences[key]}号"
        self.courts[case] = f"{'' if area.city == area.province else area.city}{area.name}人民法院"
        return case

    def filings(self, debtor: Debtor) -> None:
        rng, profile = self.rng, self.profile
        if rng.random() >= profile.p_in_court:
            return
        count = rng.choices(range(1, len(profile.filings) + 1), profile.filings)[0]
        for _ in range(count):
            self.filing(debtor)

    def filing(self, debtor: Debtor) -> None:
        rng, profile, person = self.rng, self.profile, debtor.person
        filed = _day_between(rng, years_ago(profile.filed_years[1]), years_ago(profile.filed_years[0]))
        # Our bank sues only over its loan, so only after it began; earlier filings are other lenders'.
        ours = rng.random() < profile.p_bank_plaintiff and filed > debtor.originated + dt.timedelta(days=180)
        kind, role = rng.choices((("民初", "被告"), ("执", "被执行人"), ("民特", "被申请人")), (6, 3, 1))[0]
        venue = self.world.home_areas[0] if ours and rng.random() < 0.5 else person.area
        case = self.case_number(venue, filed.year, kind)
        phones = self.phones_known(debtor, filed, ours)
        address = person.address if rng.random() < 0.9 else self.world.address(person.area)
        self.rows.append(
            CourtRow(case, filed, person.name, role, person, phones, address, debtor.reference, "self")
        )
        if rng.random() < profile.p_codefendant:
            relative = rng.choice(debtor.relatives)[1]
            co_role = role if kind != "民初" else rng.choice(("被告", "担保人"))
            self.rows.append(
                CourtRow(
                    case, filed, relative.name, co_role, relative, relative.numbers_on(filed)[:1],
                    relative.address, debtor.reference, "relative",
                )
            )  # fmt: skip
        if rng.random() < profile.p_plaintiff_row:
            template = OUR_BANK if ours else rng.choice(_OTHER_LENDERS)
            lender = template.format(city=venue.city.removesuffix("市"))
            branch = self.world.landline(venue)
            plaintiff_role = "原告" if kind == "民初" else "申请执行人" if kind == "执" else "申请人"
            self.rows.append(
                CourtRow(
                    case,
                    filed,
                    lender,
                    plaintiff_role,
                    None,
                    [branch],
                    self.world.address(venue),
                    "",
                    "plaintiff",
                )
            )

    def phones_known(self, debtor: Debtor, filed: dt.date, ours: bool) -> list[str]:
        """The numbers a filing lists for the debtor: as known on its day, copied, or someone else's."""
        rng, profile, person = self.rng, self.profile, debtor.person
        if rng.random() < profile.p_no_phone:
            return []
        if ours and rng.random() < profile.p_copy_bank:
            phones = [debtor.bank_number]
        else:
            known_on = filed
            if rng.random() < profile.p_stale:
                known_on = filed - dt.timedelta(days=rng.randint(30, round(profile.stale_years * 365)))
            held = person.numbers_on(known_on)  # none: the filing's source predates the person's phones
            phones = held if rng.random() < 0.6 else held[:1]
        if phones and rng.random() < profile.p_typo:
            at = rng.randrange(len(phones))
            phones[at] = self.world.typo(phones[at])
        if rng.random() < profile.p_relative_number:
            relative_number = rng.choice(debtor.relatives)[1].numbers[0].number
            phones = [relative_number] if rng.random() < 0.5 else [*phones, relative_number]
        if rng.random() < profile.p_employer_number:
            phones = [*phones, debtor.employer.switchboard]
        return list(dict.fromkeys(phones))

    def namesake(self, debtor: Debtor) -> None:
        """Someone else of the same name (often from the same county) in another case."""
        other = self.world.person()
        if self.rng.random() < 0.6:
            other.area = debtor.person.area
            other.id_number = _same_county_id(self.world, other, debtor.person.area)
        other.name, other.name_traditional = debtor.person.name, debtor.person.name_traditional
        other.numbers.append(Held(self.world.mobile(), years_ago(8), None))
        self.stranger_row(other, debtor.reference, "namesake")

    def stranger_row(self, person: Person, party_of: str, kind: str) -> None:
        filed = _day_between(self.rng, years_ago(6), years_ago(0.3))
        case = self.case_number(person.area, filed.year, "民初")
        phones = person.numbers_on(filed) or [h.number for h in person.numbers]
        self.rows.append(
            CourtRow(case, filed, person.name, "被告", person, phones, person.address, party_of, kind)
        )


def _same_county_id(world: World, person: Person, area: Area) -> str:
    while True:
        sequence = world.rng.randrange(0, 500) * 2 + (1 if person.gender == "M" else 0)
        first17 = f"{area.code}{person.birth:%Y%m%d}{sequence:03d}"
        id_number = first17 + check_digit(first17)
        if id_number not in world.ids:
            world.ids.add(id_number)
            return id_number
