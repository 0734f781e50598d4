"""Unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import random

import pytest

from matchers.errors import InvalidCreditCode
from matchers.identifiers import CreditCode, credit_check_char, is_credit_code, parse_credit_code

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# Published codes of well-known companies, each verified with reference_check below.
HUAWEI = "914403001922038216"
ALIBABA_CN = "91330100716105852F"
TENCENT = "9144030071526726XG"


def reference_check(first17: str) -> str:
    """Plain re-statement of the standard: weights 3**i mod 31, check = 31 - (sum mod 31), 31 → 0."""
    total = sum(CHARSET.index(c) * (3**i % 31) for i, c in enumerate(first17))
    value = 31 - total % 31
    return CHARSET[0 if value == 31 else value]


def make_code(first17: str) -> str:
    return first17 + reference_check(first17)


def test_reference_weights_are_the_published_ones() -> None:
    published = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert [3**i % 31 for i in range(17)] == published


@pytest.mark.parametrize("code", [HUAWEI, ALIBABA_CN, TENCENT])
def test_published_codes_verify(code: str) -> None:
    assert reference_check(code[:17]) == code[17]
    assert credit_check_char(code[:17]) == code[17]
    assert parse_credit_code(code).code == code


def test_parts() -> None:
    parsed = parse_credit_code(HUAWEI)
    assert parsed == CreditCode(HUAWEI, "9", "1", "440300", "192203821")
    assert parsed.authority_name == "市场监管(工商)" and parsed.org_type_name == "企业"


@pytest.mark.parametrize(
    "raw",
    [
        "91330100716105852f",
        " 91330100716105852F ",
        "9133 0100 7161 0585 2F",
        "913301-00716105852F",
        "９１３３０１００７１６１０５８５２Ｆ",
        "９１３３０１００７１６１０５８５２ｆ",
    ],
)
def test_accepted_spellings(raw: str) -> None:
    assert parse_credit_code(raw).code == ALIBABA_CN


def test_check_char_zero_case() -> None:
    # Find a body whose weighted sum is a multiple of 31, where 31 - 0 must wrap to '0'.
    rng = random.Random(3)
    while True:
        body = "91350100" + "".join(rng.choice(CHARSET) for _ in range(9))
        if sum(CHARSET.index(c) * (3**i % 31) for i, c in enumerate(body)) % 31 == 0:
            break
    assert credit_check_char(body) == "0"
    assert is_credit_code(body + "0")


def test_random_codes_and_every_substitution() -> None:
    rng = random.Random(32100)
    for _ in range(200):
        authority, org_type = rng.choice(["91", "92", "93", "11", "12", "51", "52", "53", "N2", "Y1"])
        division = f"{rng.randrange(110000, 660000):06d}"
        code = make_code(authority + org_type + division + "".join(rng.choice(CHARSET) for _ in range(9)))
        assert parse_credit_code(code).code == code
        # Weights are distinct and prime-modulus: one wrong character anywhere is always caught.
        pos = rng.randrange(8, 18)
        wrong = rng.choice([c for c in CHARSET if c != code[pos]])
        assert not is_credit_code(code[:pos] + wrong + code[pos + 1 :])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (HUAWEI[:17] + "7", "check character does not match"),
        (ALIBABA_CN[:17] + "E", "check character does not match"),
        ("91440300192203821", "expected 18 characters, got 17"),
        ("9144030019220382167", "expected 18 characters, got 19"),
        ("", "expected 18 characters, got 0"),
        ("91440300192203821I", "not allowed"),
        ("914403001922O38216", "not allowed"),
        ("91440300192203821Z", "not allowed"),
        ("9144030019S2038216", "not allowed"),
        ("91440V001922038216", "not allowed"),  # the division code is digits only
        (make_code("B1440300192203821"), "unknown registration authority"),
        (make_code("01440300192203821"), "unknown registration authority"),
    ],
)
def test_rejected(raw: str, message: str) -> None:
    with pytest.raises(InvalidCreditCode, match=message) as info:
        parse_credit_code(raw)
    assert raw[2:14] not in str(info.value) or not raw
    assert not is_credit_code(raw)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("9144030019220382", "expected 17 characters"),
        ("9144030019220382I", "outside the credit code charset"),
    ],
)
def test_credit_check_char_input(bad: str, message: str) -> None:
    with pytest.raises(InvalidCreditCode, match=message):
        credit_check_char(bad)


def test_org_type_name_unknown_pair_is_none() -> None:
    assert parse_credit_code(make_code("3" + "9" + "350100" + "123456789")).org_type_name is None
