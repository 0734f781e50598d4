"""Resident ID numbers: checksum, 15-digit conversion, dates, masks, permits, masking and names."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from matchers.errors import InvalidIdNumber
from matchers.identifiers import (
    convert_15_to_18,
    county_name,
    id_check_digit,
    is_resident_id,
    mask_id,
    parse_resident_id,
)
from matchers.refdata import areas

GB_SAMPLE = "11010519491231002X"  # the worked example of GB 11643-1999


def reference_check(first17: str) -> str:
    """An independent, deliberately plain implementation of the GB 11643 check character."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7, 9, 10, 5, ... as the standard derives them
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def make_id(county: str, born: str, seq: str) -> str:
    first17 = county + born + seq
    return first17 + reference_check(first17)


def assert_no_number_in(message: str, raw: str) -> None:
    digits = re.sub(r"[^0-9]", "", raw.translate({c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}))
    for i in range(len(digits) - 3):
        assert digits[i : i + 4] not in message, (message, "leaks part of the number")


VALID_FUJIAN = make_id("350103", "19900101", "123")
VALID_FEMALE = make_id("350103", "19851231", "002")


def test_reference_weights_are_the_published_ones() -> None:
    assert [2 ** (17 - i) % 11 for i in range(17)] == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def test_gb_sample_parses_with_every_field() -> None:
    rid = parse_resident_id(GB_SAMPLE)
    assert rid.number == GB_SAMPLE
    assert (rid.prefix, rid.suffix) == ("110105", "002X")
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.gender == "F"  # 17th digit 2 is even
    assert rid.county_code == "110105" and rid.county_known
    assert rid.region == "mainland"
    assert not rid.masked and not rid.converted_from_15


def test_check_digit_of_gb_sample() -> None:
    assert id_check_digit(GB_SAMPLE[:17]) == "X"


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        " 11010519491231002X ",
        "110105 19491231 002X",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２Ｘ",
        "１１０１０５１９４９１２３１００２ｘ",
        "110105\u300019491231\u3000002X",
        "110105\u201419491231\u2013002X",
    ],
)
def test_accepted_spellings_canonicalise(raw: str) -> None:
    assert parse_resident_id(raw).number == GB_SAMPLE


def test_gender_from_17th_digit() -> None:
    assert parse_resident_id(VALID_FUJIAN).gender == "M"
    assert parse_resident_id(VALID_FEMALE).gender == "F"


def test_every_wrong_check_character_is_rejected() -> None:
    right = VALID_FUJIAN[17]
    for wrong in "0123456789X":
        if wrong == right:
            continue
        raw = VALID_FUJIAN[:17] + wrong
        with pytest.raises(InvalidIdNumber, match="check digit does not match") as info:
            parse_resident_id(raw)
        assert_no_number_in(str(info.value), raw)
        assert not is_resident_id(raw)


def test_random_ids_parse_and_every_single_digit_error_is_caught() -> None:
    rng = random.Random(20240601)
    codes = sorted(areas())
    for _ in range(300):
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(45000))
        raw = make_id(rng.choice(codes), born.strftime("%Y%m%d"), f"{rng.randrange(1000):03d}")
        rid = parse_resident_id(raw)
        assert rid.number == raw and rid.birth_date == born
        # MOD 11-2 detects every single substitution; positions outside the date keep it a real date.
        pos = rng.choice([0, 1, 2, 3, 4, 5, 14, 15, 16])
        digit = str((int(raw[pos]) + rng.randrange(1, 10)) % 10)
        assert not is_resident_id(raw[:pos] + digit + raw[pos + 1 :])


def test_15_digit_converts_and_round_trips() -> None:
    id18 = make_id("350103", "19750615", "371")
    id15 = id18[:6] + id18[8:17]
    assert convert_15_to_18(id15) == id18
    assert convert_15_to_18("３５０１０３ 750615 371") == id18
    rid = parse_resident_id(id15)
    assert rid.converted_from_15 and rid.number == id18
    assert rid.birth_date == dt.date(1975, 6, 15) and rid.gender == "M"
    assert (rid.prefix, rid.suffix) == ("350103", id18[14:])
    # Back to 15 digits and forward again gives the same number.
    back = rid.number[:6] + rid.number[8:17]
    assert back == id15 and convert_15_to_18(back) == id18


@pytest.mark.parametrize("bad", ["35010375061537", "3501037506153711", "35010375061537X", "abcdefghijklmno"])
def test_convert_15_to_18_rejects_non_15_digits(bad: str) -> None:
    with pytest.raises(InvalidIdNumber):
        convert_15_to_18(bad)


def test_15_digit_with_impossible_date() -> None:
    with pytest.raises(InvalidIdNumber, match="not a valid date"):
        parse_resident_id("350103750231371")


@pytest.mark.parametrize(
    ("born", "ok"),
    [
        ("20000229", True),  # divisible by 400
        ("20040229", True),
        ("19990229", False),
        ("19000229", False),  # divisible by 100, not 400
        ("21000229", False),
        ("19900431", False),
        ("19901301", False),
        ("19900001", False),
        ("19900100", False),
        ("19000101", True),
        ("18991231", False),
        ("18000101", False),
    ],
)
def test_birth_dates(born: str, ok: bool) -> None:
    raw = make_id("350103", born, "123")
    if ok:
        assert parse_resident_id(raw).birth_date == dt.datetime.strptime(born, "%Y%m%d").date()
    else:
        with pytest.raises(InvalidIdNumber, match="birth date") as info:
            parse_resident_id(raw)
        assert_no_number_in(str(info.value), raw)


def test_future_birth_date_rejected_today_accepted() -> None:
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=1)
    with pytest.raises(InvalidIdNumber, match="in the future"):
        parse_resident_id(make_id("350103", tomorrow.strftime("%Y%m%d"), "123"))
    assert parse_resident_id(make_id("350103", today.strftime("%Y%m%d"), "123")).birth_date == today


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("350103199001", "expected 15 or 18 characters, got 12"),
        ("3501031990010112345", "expected 15 or 18 characters, got 19"),
        ("", "expected 15 or 18 characters, got 0"),
        ("35010319900101123A", "digits"),
        ("3501031990X1011234", "digits"),
        ("X50103199001011234", "digits"),
        ("35010319900101123", "expected 15 or 18 characters, got 17"),
    ],
)
def test_malformed_numbers(raw: str, message: str) -> None:
    with pytest.raises(InvalidIdNumber, match=message) as info:
        parse_resident_id(raw)
    assert_no_number_in(str(info.value), raw)
    assert not is_resident_id(raw)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse_resident_id("nonsense")


@pytest.mark.parametrize(
    ("raw", "prefix", "suffix"),
    [
        ("350103********1234", "350103", "1234"),
        ("350103＊＊＊＊＊＊＊＊1234", "350103", "1234"),
        ("350103××××××××1234", "350103", "1234"),
        ("350103XXXXXXXX1234", "350103", "1234"),
        ("350103xxxxxxxx1234", "350103", "1234"),
        ("350103********123x", "350103", "123X"),
        ("350103 **** **** 1234", "350103", "1234"),
        ("3501031990******12", "3501031990", "12"),
        ("350103199001******", "350103199001", ""),
        ("350103199001XXXXXX", "350103199001", ""),
        ("**************1234", "", "1234"),
        ("3501************34", "3501", "34"),
        ("35010319900101123*", "35010319900101123", ""),
    ],
)
def test_mask_forms_keep_prefix_and_suffix(raw: str, prefix: str, suffix: str) -> None:
    rid = parse_resident_id(raw)
    assert rid.masked and rid.number is None and not rid.converted_from_15
    assert (rid.prefix, rid.suffix) == (prefix, suffix)
    assert not is_resident_id(raw)


def test_masked_derives_only_what_is_visible() -> None:
    county_only = parse_resident_id("350103********1234")
    assert county_only.county_code == "350103" and county_only.county_known
    assert county_only.birth_date is None
    assert county_only.gender == "M"  # '3' in position 17 is visible in the suffix

    year_only = parse_resident_id("3501031990******12")
    assert year_only.birth_date is None and year_only.gender == "M"

    no_gender = parse_resident_id("350103199001******")
    assert no_gender.gender is None and no_gender.birth_date is None

    full_date = parse_resident_id("35010319900215****")
    assert full_date.birth_date == dt.date(1990, 2, 15) and full_date.gender is None

    female = parse_resident_id("3501031990021502**")
    assert female.gender is None
    female = parse_resident_id("350103********0221")
    assert female.gender == "F"

    short_prefix = parse_resident_id("3501************34")
    assert short_prefix.county_code is None and not short_prefix.county_known
    assert short_prefix.region == "mainland"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("350103****1234", "expected 18 characters in a masked ID, got 14"),
        ("350103**********1234", "expected 18 characters in a masked ID, got 20"),
        ("3501**1990****1234", "one run"),
        ("******************", "shows no characters"),
        ("3501031990A*****12", "one run"),
        ("3501031990131*****", "birth date"),  # month 13
        ("35010319000229****", "birth date"),  # 1900 is not a leap year
        ("3501031899********", "birth date"),
        ("3501032999********", "birth date"),
        ("350103****02301234", "birth date"),  # no year shown, but no year has Feb 30
        ("350103****13011234", "birth date"),
    ],
)
def test_invalid_masks(raw: str, message: str) -> None:
    with pytest.raises(InvalidIdNumber, match=message) as info:
        parse_resident_id(raw)
    assert_no_number_in(str(info.value), raw)


def test_mask_with_feb_29_but_no_year_is_possible() -> None:
    assert parse_resident_id("350103****02291234").birth_date is None


@pytest.mark.parametrize(
    ("county", "region", "name"),
    [("810000", "hk", "香港特别行政区"), ("820000", "mo", "澳门特别行政区"), ("830000", "tw", "台湾省")],
)
def test_hk_mo_tw_residence_permits(county: str, region: str, name: str) -> None:
    raw = make_id(county, "19880808", "022")
    rid = parse_resident_id(raw)
    assert rid.region == region and rid.county_code == county and rid.county_known
    assert rid.gender == "F"
    assert county_name(county) == name
    masked = parse_resident_id(county + "********" + raw[-4:])
    assert masked.region == region


def test_unknown_county_is_valid_but_flagged() -> None:
    # 352201 was 宁德地区's code before the prefecture became a city: real IDs still carry it.
    assert "352201" not in areas()
    rid = parse_resident_id(make_id("352201", "19700101", "011"))
    assert rid.number is not None and not rid.county_known and rid.county_code == "352201"
    assert county_name("352201") is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("350103", "福建省福州市台江区"),
        ("110101", "北京市东城区"),
        ("310115", "上海市浦东新区"),
        ("500230", "重庆市丰都县"),
        ("419001", "河南省济源市"),
        ("441900", "广东省东莞市"),
        ("659001", "新疆维吾尔自治区石河子市"),
        (" 350103 ", "福建省福州市台江区"),
        ("000000", None),
        ("3501", None),
    ],
)
def test_county_name(code: str, name: str | None) -> None:
    assert county_name(code) == name


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "110105********002X"),
        ("11010519491231002x", "110105********002X"),
        ("110105 1949 1231 002X", "110105********002X"),
        ("350103199001011230", "350103********1230"),  # wrong checksum: still an ID to hide
        ("350103750615371", "350103*****5371"),
        ("350103********1234", "350103********1234"),
        ("3501031990******12", "350103**********12"),
        ("abcdefghij", "ab******ij"),
        ("12345", "1***5"),
        ("abc", "***"),
        ("", ""),
    ],
)
def test_mask_id(value: str, masked: str) -> None:
    assert mask_id(value) == masked


def test_mask_id_of_any_id_hides_the_birth_date() -> None:
    rng = random.Random(7)
    for _ in range(50):
        raw = make_id("350103", f"19{rng.randrange(100):02d}0101", f"{rng.randrange(1000):03d}")
        assert raw[6:14] not in mask_id(raw)


@pytest.mark.parametrize(
    "bad",
    ["1101051949123100", "110105194912310021", "abcdefghijklmnopq", "１１０１０５１９４９１２３１００２"],
)
def test_id_check_digit_needs_17_ascii_digits(bad: str) -> None:
    with pytest.raises(InvalidIdNumber):
        id_check_digit(bad)


@pytest.mark.parametrize("raw", [GB_SAMPLE, VALID_FUJIAN, "350103750615371", "35010319900215****"])
def test_repr_never_spells_the_number(raw: str) -> None:
    rid = parse_resident_id(raw)
    text = repr(rid) + str(rid) + f"{rid}"
    # Prefix, birth date and suffix together would spell the number: the month and day stay hidden.
    if rid.birth_date is not None:
        assert rid.birth_date.strftime("%Y%m%d") not in text
        assert rid.birth_date.isoformat() not in text and repr(rid.birth_date) not in text
    if rid.number is not None:
        assert rid.number not in text
        assert rid.number[6:14] not in text
