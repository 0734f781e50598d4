"""Phone numbers: accepted spellings, rejections, the CN mobile fast path against phonenumbers, masking."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from phonenumbers import carrier, carrierdata, geocoder, geodata

from matchers.errors import InvalidPhone
from matchers.identifiers import Phone, is_phone, mask_phone, parse_phone
from matchers.identifiers.phone import _CN_MOBILE

MOBILE = "+8613812345678"
FUZHOU = "+8659187654321"
BEIJING = "+861012345678"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13812345678", MOBILE),
        ("+86 138 1234 5678", MOBILE),
        ("+86-138-1234-5678", MOBILE),
        ("0086 138 1234 5678", MOBILE),
        ("008613812345678", MOBILE),
        ("8613812345678", MOBILE),
        ("86 138 1234 5678", MOBILE),
        ("138-1234-5678", MOBILE),
        ("138.1234.5678", MOBILE),
        ("(138)1234-5678", MOBILE),
        ("１３８１２３４５６７８", MOBILE),
        ("＋８６　１３８－１２３４－５６７８", MOBILE),
        (" 13812345678 ", MOBILE),
        ("13812345678 ext. 12", MOBILE),
        ("13812345678转8001", MOBILE),
        ("0591-87654321", FUZHOU),
        ("059187654321", FUZHOU),
        ("(0591)87654321", FUZHOU),
        ("（0591）87654321", FUZHOU),
        ("０５９１－８７６５４３２１", FUZHOU),
        ("+86 591 8765 4321", FUZHOU),
        ("+86 (0591) 87654321", FUZHOU),
        ("0591-87654321-8001", FUZHOU),
        ("0591-87654321 转 8001", FUZHOU),
        ("0591 87654321 分机 12", FUZHOU),
        ("0591-87654321 ext 12", FUZHOU),
        ("0591-87654321#12", FUZHOU),
        ("(010)12345678", BEIJING),
        ("010-12345678", BEIJING),
        ("+86 10 1234 5678", BEIJING),
        ("+1 650-253-0000", "+16502530000"),
        ("+852 9123 4567", "+85291234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("001 650 253 0000", "+16502530000"),
    ],
)
def test_accepted_spellings(raw: str, e164: str) -> None:
    phone = parse_phone(raw)
    assert phone.e164 == e164
    assert phone.national == e164[1 + len(str(phonenumbers.parse(e164).country_code)) :]
    assert is_phone(raw)


def test_mobile_fields() -> None:
    phone = parse_phone("13812345678")
    assert phone == Phone(MOBILE, "13812345678", "mobile", "CN", "江苏省连云港市", "中国移动")


def test_fixed_line_fields() -> None:
    phone = parse_phone("0591-87654321")
    assert (phone.line_type, phone.region_code, phone.region, phone.carrier) == (
        "fixed_line",
        "CN",
        "福建省福州市",
        None,
    )
    assert parse_phone("(010)12345678").region == "北京市"


@pytest.mark.parametrize(
    ("raw", "carrier"),
    [("13912345678", "中国移动"), ("13012345678", "中国联通"), ("18912345678", "中国电信")],
)
def test_original_carrier_by_prefix(raw: str, carrier: str) -> None:
    assert parse_phone(raw).carrier == carrier


def test_region_is_none_when_only_the_country_is_known() -> None:
    assert parse_phone("+852 9123 4567").region is None
    assert parse_phone("+852 9123 4567").region_code == "HK"
    assert parse_phone("4008123123").region is None


def test_line_types() -> None:
    assert parse_phone("4008123123").line_type == "other"  # shared cost
    assert parse_phone("8008123123").line_type == "toll_free"
    assert parse_phone("+1 650 253 0000").line_type == "fixed_line_or_mobile"


def test_default_region_reads_national_numbers() -> None:
    assert parse_phone("(650) 253-0000", default_region="US").e164 == "+16502530000"
    with pytest.raises(InvalidPhone):  # a bare Chinese mobile means nothing in the US numbering plan
        parse_phone("13812345678", default_region="US")
    assert parse_phone("+86 138 1234 5678", default_region="US").e164 == MOBILE


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345678901",  # 12x is not allocated
        "1381234567",  # 10 digits
        "138123456789",
        "1-800-FLOWERS",
        "138abcd5678",
        "1381234567８a",
        "1234",
        "110",
        "+86 123",
        "0591-12",
        "+999 1234 5678",
        "86138123456789",
        "++8613812345678",
        "13812345678+",
    ],
)
def test_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        parse_phone(raw)
    message = str(info.value)
    digits = re.sub(r"[^0-9]", "", raw)
    for i in range(len(digits) - 3):
        assert digits[i : i + 4] not in message
    assert not is_phone(raw)
    assert isinstance(info.value, ValueError)


def test_chinese_mobile_data_is_keyed_by_seven_digits_at_most() -> None:
    """What makes the per-prefix cache exact; fails if a phonenumbers update keys by more digits."""
    assert max(len(k) for k in geodata.GEOCODE_DATA if k.startswith("861")) <= len("86") + 7
    assert max(len(k) for k in carrierdata.CARRIER_DATA if k.startswith("861")) <= len("86") + 7
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None and metadata.mobile.possible_length == (11,)


def _random_mobiles(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}" for _ in range(count)]


def _reference(national: str, country: str = "86") -> Phone | str:
    """What libphonenumber's own checking API says, written independently of the module under test."""
    number = phonenumbers.parse(f"+{country}{national}")
    if not phonenumbers.is_valid_number(number):
        return "not a valid phone number"
    place = geocoder.description_for_number(number, "zh")
    kind = phonenumbers.number_type(number)
    line_type = {
        phonenumbers.PhoneNumberType.MOBILE: "mobile",
        phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
        phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
        phonenumbers.PhoneNumberType.VOIP: "voip",
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    }.get(kind, "other")
    return Phone(
        e164=f"+{country}{number.national_number}",
        national=str(number.national_number),
        line_type=line_type,
        region_code=phonenumbers.region_code_for_number(number),
        region=None if place in ("", geocoder.country_name_for_number(number, "zh")) else place,
        carrier=carrier.name_for_number(number, "zh") or None,
    )


def _answer(raw: str) -> Phone | str:
    try:
        return parse_phone(raw)
    except InvalidPhone as exc:
        return str(exc)


def test_fast_path_agrees_with_phonenumbers_on_generated_numbers() -> None:
    numbers = _random_mobiles(3000, seed=11643)
    # Every 4-digit start once, so each allocation block (and each gap) is covered.
    rng = random.Random(32100)
    numbers += [f"{start}{rng.randrange(10**7):07d}" for start in range(1300, 2000)]
    fast_taken = 0
    for national in numbers:
        assert _CN_MOBILE.fullmatch(national)
        fast_taken += 1
        assert _answer(national) == _reference(national), "fast path differs from phonenumbers"
    assert fast_taken == len(numbers)
    accepted = sum(isinstance(_reference(n), Phone) for n in numbers)
    assert 0 < accepted < len(numbers)  # both valid and invalid numbers were compared


def test_fast_path_same_prefix_different_suffixes() -> None:
    rng = random.Random(5)
    for prefix in ("1380000", "1701234", "1990591", "1440000", "1620000", "1921234"):
        for _ in range(20):
            national = prefix + f"{rng.randrange(10**4):04d}"
            assert _answer(national) == _reference(national)
            assert _answer("+86" + national) == _reference(national)
            assert _answer("0086" + national) == _reference(national)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "+86 138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("0591-87654321", "+86 591****4321"),
        ("(010)12345678", "+86 101***5678"),
        ("+1 650 253 0000", "+1 650***0000"),
        ("+852 9123 4567", "+852 91****67"),
        ("12345678901", "12*******01"),
        ("123", "***"),
        ("", ""),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_full_path_agrees_with_phonenumbers_on_fixed_lines_and_foreign_numbers() -> None:
    rng = random.Random(2260)
    area_codes = ["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "351", "371", "431"]
    area_codes += ["451", "471", "531", "551", "571", "591", "592", "595", "731", "755", "769", "851", "871"]
    cases = [("86", code + f"{rng.randrange(10**8):08d}"[: 10 - len(code)]) for code in area_codes * 20]
    cases += [("86", "400" + f"{rng.randrange(10**7):07d}") for _ in range(20)]
    cases += [("1", f"{rng.randrange(200, 1000)}{rng.randrange(10**7):07d}") for _ in range(100)]
    cases += [("852", f"{rng.choice('2569')}{rng.randrange(10**7):07d}") for _ in range(50)]
    cases += [("44", f"{rng.choice(['20', '7'])}{rng.randrange(10**8):08d}") for _ in range(50)]
    for country, national in cases:
        expected = _reference(national, country)
        assert _answer(f"+{country} {national}") == expected, (country, national)
        if country == "86":
            assert _answer(f"0{national}") == expected
    assert sum(isinstance(_reference(n, c), Phone) for c, n in cases) > len(cases) // 2


@pytest.mark.parametrize("raw", ["13812345678", "0591-87654321", "+1 650 253 0000"])
def test_repr_never_spells_the_number(raw: str) -> None:
    phone = parse_phone(raw)
    text = repr(phone) + str(phone)
    assert phone.national not in text
    assert phone.national[3:-4] not in text
    assert phone.national == phone.e164[-len(phone.national) :]  # the fields themselves stay whole


def test_chinese_mobile_validity_and_type_depend_on_the_first_five_digits_only() -> None:
    """What makes the per-block cache exact: every 5-digit block, three numbers of it, one answer."""
    rng = random.Random(11)
    for block in range(13000, 20000):
        kinds = {
            phonenumbers.number_type(phonenumbers.parse(f"+86{block}{rng.randrange(10**6):06d}"))
            for _ in range(3)
        }
        kinds.add(phonenumbers.number_type(phonenumbers.parse(f"+86{block}000000")))
        assert len(kinds) == 1, block


def test_mobiles_of_allocated_blocks_agree_with_phonenumbers() -> None:
    """Place and carrier read from the prefix tables directly, across the blocks the geocoder knows."""
    blocks = sorted(k[2:] for k in geodata.GEOCODE_DATA if k.startswith("861") and len(k) == 9)
    rng = random.Random(86)
    for block in rng.sample(blocks, 3000):
        national = block + f"{rng.randrange(10**4):04d}"
        assert _answer(national) == _reference(national), national


def test_numbers_written_with_the_trunk_zero_agree_with_phonenumbers() -> None:
    rng = random.Random(591)
    area_codes = ["10", "20", "21", "23", "24", "28", "311", "351", "371", "411", "431", "451", "471"]
    area_codes += ["531", "551", "571", "579", "591", "595", "731", "755", "769", "851", "871", "898", "991"]
    for code in area_codes:
        for length in (7, 8, 9):  # subscriber digits: too short, usual, too long for most codes
            subscriber = f"{rng.randrange(10**length):0{length}d}"
            expected = _reference(code + subscriber)
            for written in (f"0{code}{subscriber}", f"0{code}-{subscriber}", f"(0{code}){subscriber}"):
                assert _answer(written) == expected, written
