"""Stage 1 — normalisation: coded columns, Chinese and Latin names, pinyin keys, IDs, dates, phones."""

from __future__ import annotations

import numpy as np
import pytest

from matchers.chinese import (
    address_without_prefixes,
    identifier_part_lists,
    identifier_parts,
    phone_key,
    simplified_key,
)
from matchers.columns import coalesce, combine_codes, concatenate, derive, factorize, share_vocabulary
from matchers.inputs import table_from_columns
from matchers.normalize import (
    PersonRecords,
    normalize_birth_date,
    normalize_gender,
    normalize_name_part,
    normalize_records,
)
from matchers.pinyin import name_pinyin, pinyin_syllables, sorted_pinyin_key


def _records(left: dict[str, list[str]], right: dict[str, list[str]] | None = None) -> PersonRecords:
    def table(columns: dict[str, list[str]], label: str) -> object:
        return table_from_columns(list(columns), columns, label)

    return normalize_records(table(left, "L"), table(right, "R") if right else None)  # type: ignore[arg-type]


def _value(records: PersonRecords, field: str, row: int) -> str | None:
    column = records.fields[field]
    code = int(column.codes[row])
    return None if code < 0 else str(column.values[code])


def test_factorize_codes_equal_values_equally_and_blanks_as_missing() -> None:
    column = factorize(["a", None, "b", "a", ""])
    assert column.codes.tolist() == [0, -1, 1, 0, -1]
    assert column.values.tolist() == ["a", "b"]
    assert column.map(str.upper).values.tolist() == ["A", "B"]


def test_column_helpers_keep_codes_comparable() -> None:
    a, b = factorize(["x", "y", None]), factorize(["y", None, "z"])
    joined = concatenate([a, b])
    assert [joined.values[c] if c >= 0 else None for c in joined.codes] == ["x", "y", None, "y", None, "z"]
    first, second = share_vocabulary(a, b)
    assert first.codes[1] == second.codes[0]  # "y" on both sides
    assert coalesce(a, b).codes.tolist()[2] == coalesce(a, b).codes.tolist()[2] >= 0
    keys = combine_codes([a, factorize(["1", "1", "1"])])
    assert keys[2] == -1 and keys[0] != keys[1]
    full = derive([a, factorize(["1", "2", "3"])], lambda x, y: f"{x}{y}" if x else None)
    assert [full.values[c] if c >= 0 else None for c in full.codes] == ["x1", "y2", None]


@pytest.mark.parametrize(
    ("surname", "reading"),
    [
        ("单", "shan"),
        ("曾", "zeng"),
        ("区", "ou"),
        ("仇", "qiu"),
        ("解", "xie"),
        ("查", "zha"),
        ("尉迟", "yu chi"),
    ],
)
def test_surnames_take_their_surname_reading(surname: str, reading: str) -> None:
    assert " ".join(pinyin_syllables(surname, as_surname=True)) == reading


def test_given_names_keep_ordinary_readings_and_keys_are_swap_proof() -> None:
    assert name_pinyin("单", "田芳") == "shan tian fang"
    assert pinyin_syllables("单") == ("dan",)  # not a surname here
    assert sorted_pinyin_key("smith", "john") == sorted_pinyin_key("john", "smith")


def test_chinese_names_are_simplified_split_and_read_in_pinyin() -> None:
    records = _records(
        {
            "id": ["1", "2", "3", "4"],
            "name": ["陳偉", "歐陽娜娜", "张三（已故）", "德州泰盛装饰工程股份有限公司"],
        }
    )
    assert (_value(records, "family", 0), _value(records, "given", 0)) == ("陈", "伟")
    assert (_value(records, "family", 1), _value(records, "given", 1)) == ("欧阳", "娜娜")
    assert (_value(records, "family", 2), _value(records, "given", 2)) == ("张", "三")
    assert _value(records, "family", 3) is None  # a company is compared whole
    assert _value(records, "family_pinyin", 1) == "ou yang"
    assert _value(records, "name", 0) == "陈伟"


def test_latin_names_from_one_column_or_two() -> None:
    records = _records(
        {"id": ["1", "2", "3"], "name": ["John Smith", "Smith, John", "O'Brien-Lee Mary"]},
        {"id": ["a"], "given_name": ["John"], "family_name": [" SMITH "]},
    )
    for row in (0, 1, 3):
        assert (_value(records, "family", row), _value(records, "given", row)) == ("smith", "john")
    assert normalize_name_part("Soph ie") == "soph ie"
    assert _value(records, "name_sorted", 0) == _value(records, "name_sorted", 3)


def test_resident_ids_fast_path_agrees_with_the_full_parser() -> None:
    values = [
        "34020919790416981X",  # valid 18-digit
        "34020919790416981x",  # lower-case x
        "340209790416981",  # 15-digit, converted
        "340209********981X",  # masked
        "340209197904169810",  # wrong check digit: a plain identifier
        "1234567",  # not a resident ID at all
        "３４０２０９１９７９０４１６９８１Ｘ",  # full-width
    ]
    lists = identifier_part_lists(values)
    for row, value in enumerate(values):
        assert [part[row] for part in lists] == list(identifier_parts(value)), value
    assert identifier_parts("340209790416981")[0] == "34020919790416981X"
    assert identifier_parts("340209********981X")[:2] == (None, "340209*981X")
    assert identifier_parts("1234567") == ("1234567", None, None, None, None)


def test_birth_date_and_gender_come_from_the_id_when_not_given() -> None:
    records = _records(
        {"id": ["1", "2"], "id_number": ["34020919790416981X", ""], "birth_date": ["", "1980年3月5日"]}
    )
    assert _value(records, "birth_date", 0) == "19790416"
    assert _value(records, "birth_year", 0) == "1979"
    assert _value(records, "gender", 0) == "m"
    assert _value(records, "county", 0) == "340209"
    assert _value(records, "birth_date", 1) == "19800305"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1980-03-05", "19800305"),
        ("1980/3/5", "19800305"),
        ("19800305", "19800305"),
        ("1980.03.05 00:00:00", "19800305"),
    ],
)
def test_birth_dates(raw: str, expected: str) -> None:
    assert normalize_birth_date(raw) == expected


def test_genders_and_phones_are_canonical() -> None:
    assert [normalize_gender(g) for g in ("男", "F", "female", "?")] == ["m", "f", "f", None]
    for raw in ("+86 139-1234-5678", "8613912345678", "0086 13912345678", "139 1234 5678"):
        assert phone_key(raw) == "13912345678"
    assert phone_key("(0591)8765-4321") == phone_key("+86 591 87654321") == "59187654321"
    assert phone_key("+61484400104") == phone_key("0484400104") == "484400104"


def test_addresses_lose_province_and_city_and_traditional_characters() -> None:
    assert address_without_prefixes("福建省福州市台江区江滨路1号") == "台江区江滨路1号"
    assert address_without_prefixes("福州市台江区江滨路1号") == "台江区江滨路1号"
    assert simplified_key("廣東省") == "广东省"
    records = _records({"id": ["1", "2"], "address": ["福建省福州市臺江區 江濱路1號", "台江区江滨路1号"]})
    assert _value(records, "address", 0) == _value(records, "address", 1)


def test_coverage_counts_values_per_side() -> None:
    records = _records(
        {"id": ["1", "2"], "phone": ["13912345678", ""]}, {"id": ["a"], "phone": ["13912345678"]}
    )
    assert records.coverage["phone"] == (1, 1)
    assert records.is_link and records.n == 3 and records.usable("phone")
    assert not records.usable("email")
    assert np.array_equal(records.ids, np.array(["1", "2", "a"], dtype=object))


def test_arrow_tables_are_taken_in_by_their_distinct_values() -> None:
    pa = pytest.importorskip("pyarrow")
    from matchers.inputs import table_from_arrow

    table = table_from_arrow(
        pa.table({"ID": ["1", "2", "3"], "name": ["王伟", " ", "王伟"], "x": ["a", "b", "c"]}), "T"
    )
    assert table.ids.tolist() == ["1", "2", "3"]
    assert table.columns["name"].codes.tolist() == [0, -1, 0] and set(table.columns) == {"name"}
