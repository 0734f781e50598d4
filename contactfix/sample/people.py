"""Persons and their lives: names, identity numbers, phones and addresses over time.

Everything is drawn from one seeded random stream (:class:`Dice`) in a fixed order, so a seed gives the same
world on every run and machine. Nothing depends on ``hash()``, set order or today's date: the
world ends on :data:`AS_OF`. Second mobiles and third parties' numbers are drawn only when the
settings ask for them.
"""

from __future__ import annotations

import csv
import io
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from itertools import accumulate
from typing import TypeVar

from opencc import OpenCC

from contactfix.sample.settings import PROFILES, SampleSettings

# Fixed "today" of the generated world, so the output never depends on the day it is generated.
AS_OF = date(2026, 6, 30).toordinal()
_BIRTH_FIRST = date(1950, 1, 1).toordinal()
_BIRTH_LAST = date(2002, 12, 31).toordinal()
_FIRST_PHONE_EARLIEST = date(2006, 1, 1).toordinal()
_FIRST_PHONE_LATEST = date(2016, 12, 31).toordinal()
_ADULT_DAYS = 18 * 365 + 5

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# 3-digit mobile prefixes in use, weighted roughly by subscribers; every one passes
# phonenumbers.is_valid_number for any 8 following digits (a test checks it).
MOBILE_PREFIXES: tuple[tuple[str, int], ...] = (
    ("138", 9), ("139", 9), ("137", 7), ("136", 7), ("135", 7), ("134", 5), ("133", 4), ("132", 4),
    ("131", 4), ("130", 4), ("150", 4), ("151", 4), ("152", 4), ("153", 3), ("155", 3), ("156", 3),
    ("157", 3), ("158", 4), ("159", 4), ("180", 3), ("181", 3), ("182", 3), ("183", 3), ("184", 2),
    ("185", 3), ("186", 4), ("187", 4), ("188", 3), ("189", 4), ("177", 3), ("176", 3), ("173", 2),
    ("178", 2), ("199", 3), ("198", 2), ("191", 2), ("166", 2), ("147", 1),
)  # fmt: skip
# Area code of each province's capital and the length of its local numbers, for fixed lines.
AREA_CODES: dict[str, tuple[str, int]] = {
    "11": ("10", 8), "12": ("22", 8), "13": ("311", 8), "14": ("351", 7), "15": ("471", 7),
    "21": ("24", 8), "22": ("431", 8), "23": ("451", 8), "31": ("21", 8), "32": ("25", 8),
    "33": ("571", 8), "34": ("551", 8), "35": ("591", 8), "36": ("791", 8), "37": ("531", 8),
    "41": ("371", 8), "42": ("27", 8), "43": ("731", 8), "44": ("20", 8), "45": ("771", 7),
    "46": ("898", 8), "50": ("23", 8), "51": ("28", 8), "52": ("851", 8), "53": ("871", 8),
    "54": ("891", 7), "61": ("29", 8), "62": ("931", 7), "63": ("971", 7), "64": ("951", 7),
    "65": ("991", 7),
}  # fmt: skip
# City rows that are not written in an address: municipal districts and directly administered counties.
T = TypeVar("T")
# Cumulative weights of 1..4 phones over a life. Lost debtors changed numbers more often:
# that is why the bank lost them.
_DEBTOR_PHONES = (8, 53, 85, 100)
_OTHER_PHONES = (35, 70, 90, 100)

_UNWRITTEN_CITIES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

_POPULAR_GIVEN = {
    "男": "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林",
    "女": "芳娜敏静丽艳娟霞玲燕萍红婷雪琳倩欣慧颖丹洁梅英兰佳晶莉",
}
_GIVEN_FIRST = {
    "男": "建志国文俊家子浩宇明伟海晓天永嘉振德立春",
    "女": "秀丽美晓雪婷佳静海春玉桂淑慧欣思雨梦紫诗",
}
_GIVEN_SECOND = {
    "男": "华强明军平伟杰东峰涛辉宇轩豪博鹏林斌刚龙",
    "女": "英兰芳华娟琴霞玲燕红婷雯琪涵怡萱娜敏洁颖",
}
_ROADS = (
    "人民", "解放", "中山", "建设", "和平", "新华", "文化", "胜利", "光明", "幸福",
    "东风", "朝阳", "长江", "黄河", "振兴", "团结", "友谊", "工业", "学府", "滨江",
)  # fmt: skip
_ROAD_KINDS = ("路", "路", "街", "大道", "东路", "西路", "南路", "北路", "中路")
_ESTATES = ("阳光", "翠苑", "金色", "锦绣", "碧水", "书香", "龙湖", "万科", "恒大", "绿城", "幸福", "康乐")
_ESTATE_KINDS = ("小区", "花园", "家园", "公寓", "新村")
_VILLAGE_FIRST = "大小新上下东西南北李王张陈高石马杨柳桃河"
_VILLAGE_SECOND = "庄家湾坪沟岗桥店营堡寨塘坝头岭"
_BRANDS = "鑫达盛恒泰华信兴隆源丰利宏远润金百嘉瑞祥昌新美通"
_TRADES = (
    "贸易", "科技", "建筑工程", "商贸", "餐饮管理", "物流", "投资",
    "服装", "电子", "食品", "装饰工程", "机械设备", "农业开发", "文化传媒",
)  # fmt: skip


class Dice(random.Random):
    """The one seeded random stream, with uniform draws cheaper than ``randrange``'s rejection loop.

    ``int(random() * n)`` is biased by under 2**-26 for the ranges used here, far below anything
    the sample rates can show, and runs several times faster; the generator makes millions of draws.
    """

    def below(self, n: int) -> int:
        """A whole number in 0..n-1."""
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """A whole number in low..high, both included."""
        return low + int(self.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        """One of ``items``, each as likely."""
        return items[int(self.random() * len(items))]

    def weighted(self, items: Sequence[T], cumulative: Sequence[float]) -> T:
        """One of ``items`` drawn by the cumulative weights ``cumulative``."""
        return items[bisect_right(cumulative, self.random() * cumulative[-1])]


@dataclass(frozen=True, slots=True)
class County:
    """A county-level division: its 6-digit code, its name, province and city as written, its streets."""

    code: str
    name: str
    province: str
    city: str
    streets: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """What precedes the county in a full address: province, then the city where one is written."""
        return self.province + self.city


@dataclass(frozen=True, slots=True)
class Address:
    """Where a person lived from ``since`` (a date ordinal): with and without province and city."""

    since: int
    county: str
    full: str
    short: str


@dataclass(frozen=True, slots=True)
class Person:
    """One person or company and its life up to :data:`AS_OF`. Phones and addresses are oldest first."""

    person_id: str
    is_company: bool
    is_debtor: bool
    name: str
    family_len: int
    gender: str
    birth: int | None
    id_number: str
    phones: tuple[tuple[int, str], ...]
    addresses: tuple[Address, ...]
    landline: str
    # A second mobile live from its date to AS_OF, beside the numbers in ``phones``.
    second_phone: tuple[int, str] | None = None
    # Third parties' numbers that filings may carry for this person: a relative's mobile, and the
    # employer's mobile or switchboard (a national number; ``employer_area`` is its area code's length,
    # 0 for a mobile). Empty when the world has no third-party numbers.
    relative: str = ""
    employer: str = ""
    employer_area: int = 0

    @property
    def current_phone(self) -> str:
        """The 11-digit mobile number in use at :data:`AS_OF` (the main one, not the second)."""
        return self.phones[-1][1]

    @property
    def live_phones(self) -> tuple[str, ...]:
        """Every mobile live at :data:`AS_OF`: the current one, then the second if there is one."""
        if self.second_phone is None:
            return (self.phones[-1][1],)
        return (self.phones[-1][1], self.second_phone[1])

    def second_at(self, day: int) -> str:
        """The second mobile if it is live on ``day``, else empty."""
        if self.second_phone is not None and self.second_phone[0] <= day:
            return self.second_phone[1]
        return ""

    def phone_at(self, day: int) -> str:
        """The mobile number in use on ``day`` (a date ordinal); empty before the first one."""
        for since, number in reversed(self.phones):
            if since <= day:
                return number
        return ""

    def address_at(self, day: int) -> Address:
        """The address lived at on ``day``; the first one for earlier days."""
        for address in reversed(self.addresses):
            if address.since <= day:
                return address
        return self.addresses[0]


def id_check_digit(body: str) -> str:
    """The GB 11643 check character of a 17-digit resident ID body."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def credit_code_check(body: str) -> str:
    """The GB 32100-2015 check character of a 17-character unified social credit code body."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def _org_code(digits: str) -> str:
    """An organisation code (GB 11714): 8 digits and their check character."""
    check = 11 - sum(int(c) * w for c, w in zip(digits, _ORG_WEIGHTS, strict=True)) % 11
    return digits + {10: "X", 11: "0"}.get(check, str(check))


def scramble(n: int, key: int) -> int:
    """A keyed bijection on 0..10**8-1 (a 4-round Feistel network on two 4-digit halves).

    Distinct inputs give distinct outputs, which makes every generated phone number unique
    without keeping a set of the numbers already used.
    """
    left, right = divmod(n, 10_000)
    for step in range(4):
        mixed = ((right + key + step * 7919) * 2_654_435_761) >> 11
        left, right = right, (left + mixed) % 10_000
    return left * 10_000 + right


@dataclass(frozen=True, slots=True)
class Reference:
    """The reference data the generator draws from, loaded once from the package files."""

    counties: tuple[County, ...]
    full_names: tuple[tuple[str, int], ...]
    given_names: tuple[str, ...]
    family_names: tuple[str, ...]
    family_cum: tuple[float, ...]


def _read_csv(package: str, *parts: str) -> list[dict[str, str]]:
    text = resources.files(package).joinpath(*parts).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def load_reference() -> Reference:
    """Load counties, streets, family names and the historical names (converted to simplified)."""
    provinces = {r["code"]: r["name"] for r in _read_csv("matchers", "data", "cn_provinces.csv")}
    cities = {r["code"]: r["name"] for r in _read_csv("matchers", "data", "cn_cities.csv")}
    streets: dict[str, list[str]] = {}
    for row in _read_csv("contactfix", "sampledata", "cn_streets.csv"):
        streets.setdefault(row["areaCode"], []).append(row["name"])
    counties = []
    for row in _read_csv("matchers", "data", "cn_areas.csv"):
        city = cities.get(row["cityCode"], "")
        city = "" if city in _UNWRITTEN_CITIES else city
        province = provinces[row["provinceCode"]]
        counties.append(County(row["code"], row["name"], province, city, tuple(streets.get(row["code"], ()))))
    family_rows = _read_csv("matchers", "data", "cn_family_names.csv")
    family_names = tuple(r["family_name"] for r in family_rows)
    family_cum = tuple(accumulate(float(r["frequency"]) for r in family_rows))
    raw = resources.files("contactfix").joinpath("sampledata", "cn_historical_names.txt").read_text("utf-8")
    # One conversion of the whole file is far faster than one per name.
    simplified = OpenCC("t2s").convert(raw)
    full_names, given = _split_names(simplified.split("\n"), set(family_names))
    return Reference(tuple(counties), full_names, given, family_names, family_cum)


def _split_names(names: list[str], families: set[str]) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    """Keep 2–4 character Han names; split each into family name length and given name."""
    full: dict[str, int] = {}
    for name in names:
        if not 2 <= len(name) <= 4 or not all("\u4e00" <= c <= "\u9fff" for c in name):
            continue
        family_len = 2 if len(name) >= 3 and name[:2] in families else 1
        full.setdefault(name, family_len)
    given = {name[flen:]: None for name, flen in full.items() if name[:flen] in families}
    return tuple(full.items()), tuple(g for g in given if 1 <= len(g) <= 2)


@dataclass(frozen=True, slots=True)
class Namesake:
    """What a deliberate namesake copies from a debtor: name, gender, birth year and home county."""

    name: str
    family_len: int
    gender: str
    birth_year: int
    county: County


class PersonFactory:
    """Draws persons one after another from one random stream; identity numbers never repeat."""

    def __init__(
        self,
        reference: Reference,
        rng: Dice,
        phone_key: int,
        settings: SampleSettings | None = None,
        extra_slots: int = 0,
    ) -> None:
        """``extra_slots``: the first phone slot of second and third-party numbers (4 per person from it)."""
        self._ref = reference
        self._rng = rng
        self._phone_key = phone_key
        self._settings = settings or PROFILES["legacy"]
        self._extra_slots = extra_slots
        self._used_ids: set[str] = set()
        self._prefixes = tuple(p for p, _ in MOBILE_PREFIXES)
        self._prefix_cum = tuple(accumulate(w for _, w in MOBILE_PREFIXES))

    def person(self, index: int, *, debtor: bool, company: bool, namesake: Namesake | None = None) -> Person:
        """Person number ``index`` (0-based, unique): a debtor of the bank or a court-only party."""
        rng = self._rng
        if company:
            home = rng.pick(self._ref.counties)
            name, family_len, gender, birth = self._company_name(home), 0, "", None
            id_number = self._credit_code(home)
        else:
            if namesake is None:
                name, family_len, gender = self._name()
                birth = rng.between(_BIRTH_FIRST, _BIRTH_LAST)
                id_county = rng.pick(self._ref.counties)
            else:
                name, family_len, gender = namesake.name, namesake.family_len, namesake.gender
                start = date(namesake.birth_year, 1, 1).toordinal()
                birth = rng.between(start, date(namesake.birth_year, 12, 31).toordinal())
                id_county = namesake.county
            id_number = self._resident_id(id_county.code, birth, gender)
            # Most people live where their ID was issued; namesakes always do (same county).
            stays = namesake is not None or rng.random() < 0.75
            home = id_county if stays else rng.pick(self._ref.counties)
        phones = self._phones(index, birth, debtor)
        addresses = self._addresses(home, phones[0][0], debtor)
        landline = self.landline(home.code[:2], switchboard=False)
        # Only draw what a knob asks for, so that with every knob off the stream is the legacy one.
        settings, extra = self._settings, self._extra_slots + index * 4
        second: tuple[int, str] | None = None
        relative = employer = ""
        employer_area = 0
        if (
            settings.two_live_numbers
            and rng.random() < settings.two_live_numbers
            and phones[0][0] + 180 < AS_OF - 30
        ):
            second = (rng.between(phones[0][0] + 180, AS_OF - 30), self.mobile(extra))
        if settings.third_party_number and not company:
            relative = self.mobile(extra + 1)
            if rng.random() < 0.5:
                employer, employer_area = self.mobile(extra + 2), 0
            else:
                province = home.code[:2]
                employer, employer_area = (
                    self.landline(province, switchboard=True),
                    len(AREA_CODES[province][0]),
                )
        return Person(
            f"P{index + 1:07d}", company, debtor, name, family_len, gender, birth, id_number,
            phones, addresses, landline, second, relative, employer, employer_area,
        )  # fmt: skip

    def mobile(self, slot: int) -> str:
        """A mobile number unique to ``slot`` (slots below 10**8); the prefix is drawn at random."""
        prefix = self._rng.weighted(self._prefixes, self._prefix_cum)
        return f"{prefix}{scramble(slot, self._phone_key):08d}"

    def landline(self, province: str, *, switchboard: bool) -> str:
        """A fixed-line national number (area code without its 0) in the capital of ``province``.

        Homes start their local number with 2–5, switchboards with 6 or 7, so the two never meet.
        """
        area, digits = AREA_CODES[province]
        first = self._rng.between(6, 7) if switchboard else self._rng.between(2, 5)
        return f"{area}{first}{self._rng.below(10 ** (digits - 1)):0{digits - 1}d}"

    def _name(self) -> tuple[str, int, str]:
        rng, ref = self._rng, self._ref
        gender = "男" if rng.random() < 0.5 else "女"
        pick = rng.random()
        if pick < 0.30:
            name, family_len = rng.pick(ref.full_names)
            return name, family_len, gender
        family = rng.weighted(ref.family_names, ref.family_cum)
        if pick < 0.60:
            given = rng.pick(ref.given_names)
        elif pick < 0.85:
            given = rng.pick(_GIVEN_FIRST[gender]) + rng.pick(_GIVEN_SECOND[gender])
        else:
            # Single popular characters make the many 王伟, 张伟 and 李娜 that real data holds.
            given = rng.pick(_POPULAR_GIVEN[gender])
        return family + given, len(family), gender

    def _resident_id(self, county: str, birth: int, gender: str) -> str:
        born = date.fromordinal(birth).strftime("%Y%m%d")
        while True:
            sequence = self._rng.below(500) * 2 + (1 if gender == "男" else 0)
            body = f"{county}{born}{sequence:03d}"
            if body not in self._used_ids:
                self._used_ids.add(body)
                return body + id_check_digit(body)

    def _credit_code(self, county: County) -> str:
        while True:
            # "91": registered with industry and commerce, an enterprise.
            body = "91" + county.code + _org_code(f"{self._rng.below(10**8):08d}")
            if body not in self._used_ids:
                self._used_ids.add(body)
                return body + credit_code_check(body)

    def _company_name(self, county: County) -> str:
        rng = self._rng
        # Firms are named after their city; in Beijing, Shanghai, Tianjin and Chongqing, the municipality.
        place = county.city or (county.province if county.province.endswith("市") else county.name)
        brand = rng.pick(_BRANDS) + rng.pick(_BRANDS)
        kind = "股份有限公司" if rng.random() < 0.15 else "有限公司"
        return f"{place.removesuffix('市')}{brand}{rng.pick(_TRADES)}{kind}"

    def _phones(self, index: int, birth: int | None, debtor: bool) -> tuple[tuple[int, str], ...]:
        rng = self._rng
        count = rng.weighted((1, 2, 3, 4), _DEBTOR_PHONES if debtor else _OTHER_PHONES)
        first = rng.between(_FIRST_PHONE_EARLIEST, _FIRST_PHONE_LATEST)
        if birth is not None:
            first = max(first, birth + _ADULT_DAYS)
        if first + 180 >= AS_OF - 30:
            count = 1
        window = self._settings.change_age_years
        if debtor and window is not None and first + 180 < AS_OF - 30:
            # The bank lost the debtor because the number changed: at least once, last on a date set
            # by the knob (years before AS_OF); earlier changes fall before it.
            count = max(count, 2)
            last = AS_OF - rng.between(round(window[0] * 365), round(window[1] * 365))
            last = max(first + 180, min(AS_OF - 30, last))
            changes = [*sorted(rng.between(first + 180, last) for _ in range(count - 2)), last]
        else:
            changes = sorted(rng.between(first + 180, AS_OF - 30) for _ in range(count - 1))
        return tuple((since, self.mobile(index * 4 + k)) for k, since in enumerate([first, *changes]))

    def _addresses(self, home: County, first: int, debtor: bool) -> tuple[Address, ...]:
        rng = self._rng
        addresses = [self._address(home, first)]
        if rng.random() < (0.6 if debtor else 0.35) and first + 365 < AS_OF - 60:
            moved_to = home if rng.random() < 0.5 else rng.pick(self._ref.counties)
            addresses.append(self._address(moved_to, rng.between(first + 365, AS_OF - 60)))
        return tuple(addresses)

    def _address(self, county: County, since: int) -> Address:
        rng = self._rng
        street = rng.pick(county.streets) if county.streets else ""
        if street.endswith(("镇", "乡")):
            village = rng.pick(_VILLAGE_FIRST) + rng.pick(_VILLAGE_SECOND)
            rest = f"{street}{village}村{rng.between(1, 12)}组{rng.between(1, 99)}号"
        else:
            road = f"{rng.pick(_ROADS)}{rng.pick(_ROAD_KINDS)}{rng.between(1, 399)}号"
            room = f"{rng.between(1, 33)}0{rng.between(1, 6)}室"
            if rng.random() < 0.5:
                estate = rng.pick(_ESTATES) + rng.pick(_ESTATE_KINDS)
                rest = f"{street}{road}{estate}{rng.between(1, 30)}栋{room}"
            else:
                rest = f"{street}{road}{rng.between(1, 6)}单元{room}"
        short = county.name + rest
        return Address(since, county.code, county.prefix + short, short)
