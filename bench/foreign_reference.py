"""Reference data the foreign sets draw from: counties with their streets and area codes, real names.

From ``/work/shared/data`` (see its README for sources and licences); area codes from phonenumbers'
own geocoding data, so every landline drawn is one phonenumbers calls valid.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import opencc
import phonenumbers
from phonenumbers import geocoder

__all__ = ["SHARED_DATA", "Area", "Reference", "load_reference"]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    city: str
    province: str
    dialing: str  # area code without the trunk 0, e.g. "591"
    streets: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    areas: tuple[Area, ...]
    family_names: tuple[str, ...]
    family_weights: tuple[float, ...]
    given_names: tuple[tuple[str, str], ...]  # (simplified, traditional)
    traditional_family: dict[str, str]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _dialing_codes(provinces: dict[str, str]) -> dict[str, str]:
    """'福建省福州市' (and '北京市') → its area code, from phonenumbers' own geocoding data."""
    found: dict[str, str] = {}
    candidates = ["10", *(f"2{d}" for d in range(10)), *(str(code) for code in range(310, 1000))]
    for code in candidates:
        number = phonenumbers.parse(f"+86{code}62345678")
        if not phonenumbers.is_valid_number(number):
            number = phonenumbers.parse(f"+86{code}6234567")
            if not phonenumbers.is_valid_number(number):
                continue
        place = geocoder.description_for_number(number, "zh")
        if place and place not in found and any(place.startswith(p) for p in provinces.values()):
            found[place] = code
    return found


@lru_cache(maxsize=2)
def load_reference(folder: Path = SHARED_DATA) -> Reference:
    """The reference data a set draws from; read once per process."""
    provinces = {row["code"]: row["name"] for row in _csv_rows(folder / "cn_provinces.csv")}
    cities = {row["code"]: row for row in _csv_rows(folder / "cn_cities.csv")}
    streets: dict[str, list[str]] = {}
    for row in _csv_rows(folder / "cn_streets.csv"):
        streets.setdefault(row["areaCode"], []).append(row["name"])
    dialing = _dialing_codes(provinces)
    province_dialing: dict[str, str] = {}
    for place, code in sorted(dialing.items()):
        for pcode, pname in provinces.items():
            if place.startswith(pname):
                province_dialing.setdefault(pcode, code)
    areas: list[Area] = []
    for row in _csv_rows(folder / "cn_areas.csv"):
        city = cities.get(row["cityCode"], {}).get("name", "")
        province = provinces.get(row["provinceCode"], "")
        if not province or row["code"] not in streets:
            continue
        city_shown = province if city in ("市辖区", "县", "") else city
        place = province if city_shown == province else province + city
        dialing_code = dialing.get(place) or province_dialing.get(row["provinceCode"])
        if dialing_code is None:
            continue
        area_streets = tuple(streets[row["code"]])
        areas.append(Area(row["code"], row["name"], city_shown, province, dialing_code, area_streets))
    families = _csv_rows(folder / "cn_family_names.csv")
    family_names = tuple(row["family_name"] for row in families)
    given, traditional = _given_names(folder / "cn_historical_names.txt", set(family_names))
    return Reference(
        tuple(areas),
        family_names,
        tuple(float(row["frequency"]) for row in families),
        given,
        traditional,
    )


def _given_names(path: Path, families: set[str]) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """Given names (simplified, traditional) cut from real full names whose family name we know."""
    t2s = opencc.OpenCC("t2s")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if len(n) in (2, 3)]
    firsts = sorted({n[0] for n in names})
    simplified_first = dict(zip(firsts, t2s.convert("\n".join(firsts)).split("\n"), strict=True))
    traditional_family: dict[str, str] = {}
    given: list[str] = []
    for name in names:
        family = simplified_first[name[0]]
        if family in families:
            traditional_family.setdefault(family, name[0])
            given.append(name[1:])
    distinct = sorted(set(given))
    step = max(1, len(distinct) // 30_000)  # enough variety; the conversion is pure Python
    chosen = distinct[::step]
    simplified = t2s.convert("\n".join(chosen)).split("\n")
    return tuple(zip(simplified, chosen, strict=True)), traditional_family
