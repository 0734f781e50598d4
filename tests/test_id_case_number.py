"""Court case numbers: bracket styles, full-width digits, court codes, case types, suffixes."""

from __future__ import annotations

import datetime as dt

import pytest

from matchers.errors import InvalidCaseNumber
from matchers.identifiers import PROVINCE_ABBREVIATIONS, CaseNumber, is_case_number, parse_case_number

CANONICAL = "（2024）闽0103民初1234号"


@pytest.mark.parametrize(
    "raw",
    [
        "（2024）闽0103民初1234号",
        "(2024)闽0103民初1234号",
        "〔2024〕闽0103民初1234号",
        "[2024]闽0103民初1234号",
        "【2024】闽0103民初1234号",
        "［2024］闽0103民初1234号",
        "(2024）闽0103民初1234号",  # half- and full-width mixed, as typed
        "2024闽0103民初1234号",
        "（2024）闽0103民初1234",
        "（２０２４）闽０１０３民初１２３４号",
        "( 2024 ) 闽 0103 民初 1234 号",
        " （2024）闽0103民初1234号 ",
        "（2024）闽0103民初01234号",
    ],
)
def test_bracket_styles_and_spellings(raw: str) -> None:
    assert parse_case_number(raw) == CaseNumber(2024, "闽0103", "民初", 1234, CANONICAL)
    assert is_case_number(raw)


@pytest.mark.parametrize(
    ("raw", "court", "case_type", "sequence", "canonical"),
    [
        ("（2024）闽01民终1号", "闽01", "民终", 1, "（2024）闽01民终1号"),
        ("（2024）闽民再5号", "闽", "民再", 5, "（2024）闽民再5号"),
        ("（2024）京0105执123号", "京0105", "执", 123, "（2024）京0105执123号"),
        ("（2024）沪0115执恢88号", "沪0115", "执恢", 88, "（2024）沪0115执恢88号"),
        ("（2024）粤0305执异9号", "粤0305", "执异", 9, "（2024）粤0305执异9号"),
        ("（2023）浙01刑初2号", "浙01", "刑初", 2, "（2023）浙01刑初2号"),
        ("（2023）苏05破3号", "苏05", "破", 3, "（2023）苏05破3号"),
        ("（2024）川0104财保7号", "川0104", "财保", 7, "（2024）川0104财保7号"),
        ("（2024）闽0103诉前调100号", "闽0103", "诉前调", 100, "（2024）闽0103诉前调100号"),
        ("（2023）最高法民申123号", "最高法", "民申", 123, "（2023）最高法民申123号"),
        ("（2024）兵0101民初5号", "兵0101", "民初", 5, "（2024）兵0101民初5号"),
        ("（2023）内0102民初1号", "内0102", "民初", 1, "（2023）内0102民初1号"),
        ("（2022）黔01民终77号", "黔01", "民终", 77, "（2022）黔01民终77号"),
        ("（2021）军01刑初3号", "军01", "刑初", 3, "（2021）军01刑初3号"),
        ("（2024）新01民初6号", "新01", "民初", 6, "（2024）新01民初6号"),
        ("（2024）沪72民初4号", "沪72", "民初", 4, "（2024）沪72民初4号"),  # maritime court
        ("（2015）闽民终字第1234号", "闽", "民终", 1234, "（2015）闽民终1234号"),
    ],
)
def test_courts_and_case_types(raw: str, court: str, case_type: str, sequence: int, canonical: str) -> None:
    parsed = parse_case_number(raw)
    assert (parsed.court_code, parsed.case_type, parsed.sequence, parsed.canonical) == (
        court,
        case_type,
        sequence,
        canonical,
    )
    assert parsed.suffix == ""


@pytest.mark.parametrize(("suffix"), ["之一", "之二", "之十"])
def test_related_decision_suffix(suffix: str) -> None:
    parsed = parse_case_number(f"[2024]闽0103执恢12号{suffix}")
    assert parsed.suffix == suffix
    assert parsed.canonical == f"（2024）闽0103执恢12号{suffix}"
    assert parsed.sequence == 12


@pytest.mark.parametrize("abbreviation", list(PROVINCE_ABBREVIATIONS))
def test_every_province_abbreviation(abbreviation: str) -> None:
    assert parse_case_number(f"（2024）{abbreviation}01民初1号").court_code == f"{abbreviation}01"


def test_the_31_provinces() -> None:
    assert len(set(PROVINCE_ABBREVIATIONS)) == len(PROVINCE_ABBREVIATIONS) == 31


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "expected"),
        ("（2024）闽0103民初号", "expected"),  # no sequence
        ("（2024）X0103民初12号", "expected"),  # not a province
        ("（2024）港0103民初12号", "expected"),
        ("（2024）闽012345民初1号", "expected"),  # five-digit or longer court code
        ("（2024）闽0103 1234号", "expected"),  # no case type
        ("（24）闽0103民初1234号", "expected"),
        ("（2024）闽0103民初1234号之", "expected"),
        ("（2024）闽0103民初12a4号", "expected"),
        ("闽0103民初1234号", "expected"),
        ("（1948）闽0103民初1号", "year is out of range"),
        ("（2999）闽0103民初1号", "year is out of range"),
        ("（2024）闽0103民初0号", "sequence number must be positive"),
    ],
)
def test_rejected(raw: str, message: str) -> None:
    with pytest.raises(InvalidCaseNumber, match=message):
        parse_case_number(raw)
    assert not is_case_number(raw)


def test_next_year_is_accepted_for_clock_skew() -> None:
    # Courts file on Beijing time; a UTC clock can still be in the old year.
    year = dt.date.today().year + 1
    assert parse_case_number(f"（{year}）闽0103民初1号").year == year
