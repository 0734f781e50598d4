"""Fuzzing the identifier parsers (hypothesis): any text in, a value or our own error out.

Every parser in :mod:`matchers.identifiers` either answers or raises :class:`MatchersError`; its
messages never hold a run of the input's digits (PIPL); a valid identifier survives a round trip.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchers.errors import MatchersError
from matchers.identifiers import (
    convert_15_to_18,
    credit_check_char,
    id_check_digit,
    is_case_number,
    is_company_name,
    is_credit_code,
    is_phone,
    is_resident_id,
    mask_id,
    mask_phone,
    normalize_company_name,
    normalize_person_name,
    parse_case_number,
    parse_credit_code,
    parse_phone,
    parse_resident_id,
    split_chinese_name,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# What identifiers are made of, and what people and spreadsheets put around them.
_PIECES = (
    "0123456789" "０１２３４５６７８９" "Xx*-+ .()（）〔〕[]【】#/、"
    "年月日号民初终执字第之一转分机ext" "闽京沪粤鄂" "ABCDEFGHJKLMNPQRTUWY" "\t\n\u3000\u00a0"
)  # fmt: skip
identifier_text = st.one_of(
    st.text(alphabet=_PIECES, max_size=40),
    st.text(max_size=40),
    st.from_regex(r"[0-9]{6}(19|20)[0-9]{6}[0-9]{3}[0-9Xx]", fullmatch=True),
    st.from_regex(r"\+?(86)?1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(
        r"[（(]20[0-9]{2}[)）][\u95fd\u4eac][0-9]{4}[\u6c11\u5211][\u521d\u7ec8][0-9]{1,6}号", fullmatch=True
    ),
)
_DIGIT_RUN = re.compile(r"[0-9]{7,}")

PARSERS: list[tuple[str, Callable[[str], object]]] = [
    ("parse_resident_id", parse_resident_id),
    ("parse_credit_code", parse_credit_code),
    ("parse_phone", parse_phone),
    ("parse_phone_us", lambda text: parse_phone(text, "US")),
    ("parse_case_number", parse_case_number),
    ("convert_15_to_18", convert_15_to_18),
    ("normalize_person_name", normalize_person_name),
    ("normalize_company_name", normalize_company_name),
    ("split_chinese_name", split_chinese_name),
]
PREDICATES: list[Callable[[str], bool]] = [
    is_resident_id, is_credit_code, is_phone, is_case_number, is_company_name,
]  # fmt: skip


@pytest.mark.parametrize(("name", "parse"), PARSERS, ids=[name for name, _ in PARSERS])
@FUZZ
@given(text=identifier_text)
def test_a_parser_answers_or_raises_our_own_error_without_the_digits(
    name: str, parse: Callable[[str], object], text: str
) -> None:
    try:
        parse(text)
    except MatchersError as exc:
        digits = "".join(ch for ch in text if ch.isdigit())
        for run in _DIGIT_RUN.findall(str(exc)):
            assert run not in digits, f"{name} quoted the input: {exc}"


@FUZZ
@given(text=identifier_text)
def test_predicates_and_masks_never_raise(text: str) -> None:
    for predicate in PREDICATES:
        assert predicate(text) in (True, False)
    for mask in (mask_id, mask_phone):
        shown = mask(text)
        assert isinstance(shown, str)
        digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
        if len(digits) >= 11:  # long enough to be an ID or phone: its middle never shows
            assert digits not in "".join(ch for ch in shown if ch.isascii() and ch.isdigit())


@settings(max_examples=200, deadline=None)
@given(
    county=st.sampled_from(["110101", "350103", "440106", "810000", "820000", "830000"]),
    birth=st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2020, 12, 31)),
    sequence=st.integers(0, 999),
)
def test_a_valid_resident_id_round_trips_and_a_changed_check_digit_does_not(
    county: str, birth: dt.date, sequence: int
) -> None:
    first17 = f"{county}{birth:%Y%m%d}{sequence:03d}"
    number = first17 + id_check_digit(first17)
    parsed = parse_resident_id(number)
    assert parsed.number == number and parsed.birth_date == birth
    assert parsed.gender == ("M" if sequence % 2 else "F")
    wrong = first17 + ("0" if number[-1] != "0" else "1")
    with pytest.raises(MatchersError):
        parse_resident_id(wrong)
    masked = mask_id(number)
    assert number[6:14] not in masked


@settings(max_examples=200, deadline=None)
@given(body=st.from_regex(r"[1-9][1-9][0-9]{6}[0-9A-HJ-NP-RT-UW-Y]{9}", fullmatch=True))
def test_a_credit_code_with_its_check_character_parses(body: str) -> None:
    try:
        check = credit_check_char(body)
    except MatchersError:
        return
    try:
        parsed = parse_credit_code(body + check)
    except MatchersError as exc:
        assert "authority" in str(exc) or "position" in str(exc)  # a registration code not in use
    else:
        assert parsed.code == body + check
