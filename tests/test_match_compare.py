"""Stage 3 — comparison levels: every comparator on pairs whose right level is known by construction."""

from __future__ import annotations

import numpy as np

from matchers.compare import Comparator, DateComparator, IdentifierComparator, StringComparator, compare_pairs
from matchers.compare_person import LocationComparator, NameComparator
from matchers.inputs import table_from_columns
from matchers.normalize import PersonRecords, normalize_records


def _levels(
    comparator: Comparator, left: dict[str, list[str]], right: dict[str, list[str]]
) -> list[list[int]]:
    """Levels of pair k = (left row k, right row k), one list per comparison."""
    n = len(left["id"])
    records: PersonRecords = normalize_records(
        table_from_columns(list(left), left, "L"), table_from_columns(list(right), right, "R")
    )
    rows = np.arange(n, dtype=np.int64)
    return [levels.tolist() for levels in comparator.compare(records, rows, rows + n)]


def _label(comparator: Comparator, level: int, which: int = 0) -> str:
    return "missing" if level == 0 else comparator.comparisons[which].levels[level - 1]


def test_name_levels_exact_homophone_typo_swap_missing() -> None:
    comparator = NameComparator()
    family, given = _levels(
        comparator,
        {"id": list("abcde"), "name": ["张伟", "张伟", "", "Smith, Jonathon", "Mary Jones"]},
        {"id": list("vwxyz"), "name": ["章伟", "王芳", "李四", "Smith, Jonathan", "Jones Mary"]},
    )
    assert [_label(comparator, lv) for lv in family] == [
        "same pinyin",
        "different",
        "missing",
        "exact",
        "exact",
    ]
    assert [_label(comparator, lv, 1) for lv in given] == [
        "exact",
        "different",
        "missing",
        "jaro_winkler≥0.92",
        "exact",  # the swapped reading wins
    ]


def test_traditional_script_is_exact_agreement() -> None:
    comparator = NameComparator()
    family, given = _levels(comparator, {"id": ["a"], "name": ["陳麗華"]}, {"id": ["b"], "name": ["陈丽华"]})
    assert family == [1] and given == [1]


def test_date_levels_tolerate_a_slip_and_a_day_month_swap() -> None:
    comparator = DateComparator()
    (levels,) = _levels(
        comparator,
        {"id": list("abcde"), "birth_date": ["1980-03-05", "1980-03-05", "1980-03-05", "1980-03-05", ""]},
        {
            "id": list("vwxyz"),
            "birth_date": ["19800305", "19800306", "1980-05-03", "1975-11-21", "1980-03-05"],
        },
    )
    assert [_label(comparator, lv) for lv in levels] == [
        "exact",
        "one slip or day/month swap",
        "one slip or day/month swap",
        "different",
        "missing",
    ]


def test_identifier_levels_know_15_digit_and_masked_forms() -> None:
    comparator = IdentifierComparator("id", partial="id_ps", label="id_number")
    (levels,) = _levels(
        comparator,
        {"id": list("abcde"), "id_number": ["34020919790416981X"] * 4 + ["A1234567"]},
        {
            "id": list("vwxyz"),
            "id_number": [
                "340209790416981",
                "340209********981X",
                "340209********1234",
                "34020919790416981Y",
                "A1234568",
            ],
        },
    )
    assert [_label(comparator, lv) for lv in levels] == [
        "exact",
        "masked form fits",
        "different",
        "one edit",
        "one edit",
    ]


def test_location_counts_address_city_and_postcode_as_one_fact() -> None:
    comparator = LocationComparator()
    left = {
        "id": list("abcd"),
        "address": ["12 smith st", "12 smith st", "12 smith st", ""],
        "city": ["kelvin", "kelvin", "kelvin", "kelvin"],
        "postcode": ["4059", "4059", "4059", "4059"],
    }
    right = {
        "id": list("wxyz"),
        "address": ["12 smith st", "12 smtih st", "99 other rd", "7 new rd"],
        "city": ["kelvin", "kelvin", "kelvin", "paddington"],
        "postcode": ["4059", "4059", "4059", "4064"],
    }
    (levels,) = _levels(comparator, left, right)
    assert [_label(comparator, lv) for lv in levels] == [
        "same address, city and postcode",
        "address indel≥0.9, same city and postcode",
        "same city and postcode",
        "different",
    ]


def test_compare_pairs_stacks_every_comparison() -> None:
    left = {"id": ["a"], "name": ["张伟"], "phone": ["13912345678"], "gender": ["男"]}
    right = {"id": ["b"], "name": ["张伟"], "phone": ["13912345679"], "gender": ["女"]}
    records = normalize_records(
        table_from_columns(list(left), left, "L"), table_from_columns(list(right), right, "R")
    )
    comparators: list[Comparator] = [
        NameComparator(),
        IdentifierComparator("phone"),
        StringComparator("gender", thresholds=()),
    ]
    comparisons, levels = compare_pairs(records, comparators, np.array([0]), np.array([1]))
    assert [c.name for c in comparisons] == ["family_name", "given_name", "phone", "gender"]
    assert levels.dtype == np.uint8 and levels.tolist() == [[1, 1, 2, 2]]
