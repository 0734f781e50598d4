"""Reference data shipped in :mod:`matchers.data`, loaded lazily and cached for the process.

Each loader reads its file once, on first use, through :mod:`importlib.resources`, so an installed
wheel needs nothing beside the package. The returned mappings are shared: treat them as read-only.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "Area",
    "areas",
    "cities",
    "family_names",
    "hk_mo_tw",
    "provinces",
]


class Area(NamedTuple):
    """One county-level division from cn_areas.csv."""

    name: str
    city_code: str
    province_code: str


def _read_text(name: str) -> str:
    return files("matchers").joinpath("data", name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_read_text(name))))


@cache
def provinces() -> MappingProxyType[str, str]:
    """2-digit province code → name, e.g. ``'35' → '福建省'`` (GB/T 2260)."""
    return MappingProxyType({row["code"]: row["name"] for row in _rows("cn_provinces.csv")})


@cache
def cities() -> MappingProxyType[str, str]:
    """4-digit prefecture code → name, e.g. ``'3501' → '福州市'``; placeholders such as 市辖区 included."""
    return MappingProxyType({row["code"]: row["name"] for row in _rows("cn_cities.csv")})


@cache
def areas() -> MappingProxyType[str, Area]:
    """6-digit county code → :class:`Area`, e.g. ``'350103' → Area('台江区', '3501', '35')``."""
    return MappingProxyType(
        {
            row["code"]: Area(row["name"], row["cityCode"], row["provinceCode"])
            for row in _rows("cn_areas.csv")
        }
    )


@cache
def hk_mo_tw() -> MappingProxyType[str, dict[str, list[str]]]:
    """Hong Kong, Macau and Taiwan: top-level name → {district group → [districts]}, as published."""
    data: dict[str, dict[str, list[str]]] = json.loads(_read_text("cn_hk_mo_tw.json"))
    return MappingProxyType(data)


@cache
def family_names() -> MappingProxyType[str, float]:
    """Chinese family name → relative frequency (1,074 names, single and compound)."""
    return MappingProxyType(
        {row["family_name"].strip(): float(row["frequency"]) for row in _rows("cn_family_names.csv")}
    )
