"""Row normalisation: what is kept, what is dropped with a warning, what is rejected — PII masked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest
from intake_support import UNMASKED, bad_check, resident_id

from contactfix.intake.headers import map_headers
from contactfix.intake.rows import RowNormaliser, RowResult, court_key_of_digest, court_role
from contactfix.intake.values import BadValue, parse_amount, parse_date, parse_gender
from matchers.text import to_halfwidth

TODAY = dt.date(2024, 5, 6)
BANK_HEADER = [
    "客户号",
    "姓名",
    "身份证号",
    "手机号",
    "地址",
    "出生日期",
    "性别",
    "欠款金额(元)",
    "币种",
    "合同编号",
]


def bank_row(cells: dict[str, object], header: Sequence[str] = BANK_HEADER, limit: int = 500) -> RowResult:
    header_map = map_headers(header, "bank")
    normaliser = RowNormaliser("bank", header_map, 7, TODAY, limit)
    values = [cells.get(h) for h in header]
    return normaliser.normalise(2, values)


SECRET = b"k" * 32


def court_row(cells: dict[str, object], header: Sequence[str], secret: bytes = SECRET) -> RowResult:
    normaliser = RowNormaliser("court", map_headers(header, "court"), 9, TODAY, 500, record_key_secret=secret)
    return normaliser.normalise(5, [cells.get(h) for h in header])


def reasons(result: RowResult) -> list[tuple[str, str]]:
    return [(issue.field, issue.reason) for issue in result.issues]


def test_a_clean_bank_row() -> None:
    number = resident_id("110101", "19900307", "457")
    result = bank_row(
        {
            "客户号": "B1",
            "姓名": "張三",
            "身份证号": number,
            "手机号": "138 0013 8000",
            "地址": "福建省福州市　台江区",
            "欠款金额(元)": "¥12,345.60",
            "合同编号": "HT-1",
        }
    )
    record = result.record
    assert record is not None and result.issues == []
    assert (record.record_key, record.reference, record.name, record.name_original) == (
        "bank:7:B1",
        "B1",
        "张三",
        "張三",
    )
    assert (record.id_type, record.id_number, record.id_prefix, record.id_suffix) == (
        "resident_id",
        number,
        "110101",
        number[-4:],
    )
    assert (record.birth_date, record.gender, record.county_code) == (dt.date(1990, 3, 7), "M", "110101")
    assert record.amount_owed == Decimal("12345.60") and record.currency == "CNY"
    assert record.observed_on == TODAY and record.contract_number == "HT-1"
    assert [(c.channel, c.value, c.value_original) for c in record.contacts] == [
        ("phone", "+8613800138000", "138 0013 8000"),
        ("address", "福建省福州市 台江区", "福建省福州市　台江区"),
    ]
    assert record.contacts[0].line_type == "mobile" and record.contacts[0].carrier


def test_several_phones_in_one_cell_each_become_a_contact() -> None:
    cell = "13800138000,13900139000;0591-87654321/13700137000、13600136000 13500135000，+86 135 0013 5000"
    result = bank_row({"客户号": "B1", "姓名": "张三", "手机号": cell})
    assert result.record is not None and result.issues == []
    assert [c.value for c in result.record.contacts] == [
        "+8613800138000",
        "+8613900139000",
        "+8659187654321",
        "+8613700137000",
        "+8613600136000",
        "+8613500135000",  # written twice, the second time as +86 135 0013 5000: one contact
    ]


def test_a_bad_phone_is_dropped_with_a_masked_warning_and_the_row_kept() -> None:
    result = bank_row(
        {"客户号": "B1", "姓名": "张三", "手机号": "1280013800, 13900139000", "出生日期": "1990-01-02"}
    )
    assert result.record is not None
    assert [c.value for c in result.record.contacts] == ["+8613900139000"]
    [(field, reason)] = reasons(result)
    assert field == "phone" and reason.startswith("invalid phone") and "1280013800" not in reason


@pytest.mark.parametrize(
    "written", ["1380013800", "138001380001", "+86 138-0013-800", "１３８００１３８００"]
)
def test_a_bank_keeps_a_mobile_misspelt_by_a_digit_as_never_dialled_evidence(written: str) -> None:
    result = bank_row({"客户号": "B1", "姓名": "张三", "手机号": f"{written}, 13900139000"})
    assert result.record is not None
    digits = "".join(ch for ch in to_halfwidth(written) if ch.isdigit()).removeprefix("86")
    assert [(c.value, c.line_type) for c in result.record.contacts] == [
        ("+86" + digits, "mistyped"),
        ("+8613900139000", "mobile"),
    ]
    [(field, reason)] = reasons(result)
    assert field == "phone" and "kept as a misspelt number" in reason and digits not in reason


def test_a_misspelt_mobile_alone_does_not_identify_a_bank_row() -> None:
    result = bank_row({"客户号": "B1", "姓名": "张三", "手机号": "1380013800"})
    assert result.record is None
    assert ("name", "rejected: a name without an ID number, phone or birth date") in reasons(result)


def test_a_court_row_drops_a_misspelt_mobile() -> None:
    result = court_row(
        {
            "案号": "（2024）闽0102民初1号",
            "当事人": "张三",
            "联系电话": "1380013800",
            "出生日期": "1990-01-02",
        },
        ["案号", "当事人", "联系电话", "出生日期"],
    )
    assert result.record is not None and result.record.contacts == []


def test_an_id_failing_its_check_digit_is_dropped_and_the_row_kept_by_its_phone() -> None:
    wrong = bad_check(resident_id())
    result = bank_row({"客户号": "B1", "姓名": "张三", "身份证号": wrong, "手机号": "13800138000"})
    assert result.record is not None and result.record.id_type is None and result.record.id_number is None
    [(field, reason)] = reasons(result)
    assert field == "id_number" and "350103********" in reason and wrong not in reason


def test_a_name_with_nothing_else_identifying_is_rejected_naming_the_dropped_id() -> None:
    result = bank_row({"客户号": "B1", "姓名": "张三", "身份证号": bad_check(resident_id()), "地址": "福州"})
    assert result.record is None
    assert [i.severity for i in result.issues] == ["warning", "rejected"]
    assert result.issues[1].reason.startswith("rejected: ") and result.issues[1].field == "name"


@pytest.mark.parametrize("cells", [{"客户号": "B1", "手机号": "13800138000"}, {"客户号": "B1", "姓名": "  "}])
def test_no_name_is_rejected(cells: dict[str, object]) -> None:
    result = bank_row(cells)
    assert result.record is None and reasons(result) == [("name", "rejected: no name")]


def test_a_bank_row_without_reference_is_rejected() -> None:
    result = bank_row({"姓名": "张三", "手机号": "13800138000"})
    assert result.record is None and reasons(result)[0][0] == "reference"
    assert result.issues[0].severity == "rejected"


def test_masked_id_keeps_prefix_and_suffix() -> None:
    result = bank_row({"客户号": "B1", "姓名": "张三", "身份证号": "350103********1234"})
    record = result.record
    assert record is not None and result.issues == []
    assert (record.id_type, record.id_number, record.id_prefix, record.id_suffix) == (
        "resident_id_masked",
        None,
        "350103",
        "1234",
    )


def test_fifteen_digit_id_is_converted_silently() -> None:
    number18 = resident_id("110101", "19800101", "123")
    number15 = number18[:6] + number18[8:17]
    result = bank_row({"客户号": "B1", "姓名": "张三", "身份证号": number15})
    assert result.record is not None and result.issues == []
    assert result.record.id_number == number18 and result.record.birth_date == dt.date(1980, 1, 1)


def test_birth_date_and_gender_given_against_the_id_keep_the_ids() -> None:
    number = resident_id(birth="19900102", sequence="124")  # even: a woman
    result = bank_row(
        {"客户号": "B1", "姓名": "张三", "身份证号": number, "出生日期": "1991-01-02", "性别": "男"}
    )
    assert result.record is not None
    assert (result.record.birth_date, result.record.gender) == (dt.date(1990, 1, 2), "F")
    assert [f for f, _ in reasons(result)] == ["birth_date", "gender"]
    assert all("contradicts" in r for _, r in reasons(result))


@pytest.mark.parametrize(
    "cell",
    [3.50103199001021e17, "3.50103E+17", "3.50103199001021E+17"],
)
def test_ids_mangled_by_excel_are_named_as_such(cell: object) -> None:
    result = bank_row({"客户号": "B1", "姓名": "张三", "身份证号": cell, "手机号": "13800138000"})
    assert result.record is not None and result.record.id_number is None
    [(field, reason)] = reasons(result)
    assert field == "id_number" and "Excel" in reason


def test_id_cut_to_fifteen_digits_by_excel_hints_at_it() -> None:
    mangled = resident_id()[:15] + "000"
    result = bank_row({"客户号": "B1", "姓名": "张三", "身份证号": mangled, "手机号": "13800138000"})
    assert "Excel" in reasons(result)[0][1]


def test_company_debtor_with_credit_code() -> None:
    result = bank_row({"客户号": "C1", "姓名": "福州某某科技有限责任公司", "身份证号": "91350100M000100Y43"})
    record = result.record
    assert record is not None and result.issues == []
    assert (record.party_type, record.id_type, record.id_number) == (
        "company",
        "credit_code",
        "91350100M000100Y43",
    )
    assert record.name == "福州某某科技有限公司" and record.birth_date is None


def test_company_by_name_only_needs_a_phone() -> None:
    result = bank_row({"客户号": "C1", "姓名": "某某商贸有限公司", "手机号": "0591-87654321"})
    assert result.record is not None and result.record.party_type == "company"


def test_other_identifiers_are_kept_as_other() -> None:
    result = bank_row({"客户号": "B1", "姓名": "John Smith", "身份证号": "E12345678"})
    assert result.record is not None and (result.record.id_type, result.record.id_number) == (
        "other",
        "E12345678",
    )


def test_oversized_fields_are_dropped_with_a_warning() -> None:
    result = bank_row(
        {"客户号": "B1", "姓名": "张三", "手机号": "13800138000", "地址": "福" * 100, "合同编号": "H" * 101},
        limit=50,
    )
    record = result.record
    assert record is not None and record.address is None and record.contract_number is None
    assert reasons(result) == [
        ("address", "longer than 50 characters (100), dropped"),
        ("contract_number", "longer than 50 characters (101), dropped"),
    ]


def test_an_oversized_name_rejects_the_row() -> None:
    result = bank_row({"客户号": "B1", "姓名": "张" * 300, "手机号": "13800138000"})
    assert result.record is None and [i.severity for i in result.issues] == ["warning", "rejected"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("出生日期", "not a date"), ("性别", "未说明的"), ("欠款金额(元)", "一万"), ("币种", "水晶")],
)
def test_malformed_fields_are_dropped_with_a_warning(field: str, value: str) -> None:
    result = bank_row({"客户号": "B1", "姓名": "张三", "手机号": "13800138000", field: value})
    assert result.record is not None and len(result.issues) == 1
    assert result.issues[0].severity == "warning"


def test_extra_cells_beyond_the_header_are_flagged() -> None:
    header_map = map_headers(["客户号", "姓名", "手机号"], "bank")
    result = RowNormaliser("bank", header_map, 1, TODAY, 500).normalise(
        3, ["B1", "张三", "13800138000", "福州", "x"]
    )
    assert result.record is not None and reasons(result) == [
        ("row", "5 cells but 3 headers: extra cells ignored")
    ]


COURT_HEADER = ["案号", "当事人", "诉讼地位", "证件号码", "联系电话", "送达地址", "立案日期"]


def test_a_court_row() -> None:
    number = resident_id()
    result = court_row(
        {
            "案号": "(2024)闽0103民初１２３４号",
            "当事人": "张三",
            "诉讼地位": "被告",
            "证件号码": number,
            "联系电话": "13800138000",
            "立案日期": "2024年3月5日",
        },
        COURT_HEADER,
    )
    record = result.record
    assert record is not None and result.issues == []
    assert record.reference == "（2024）闽0103民初1234号"
    assert (record.case_year, record.court_code, record.case_type, record.case_sequence) == (
        2024,
        "闽0103",
        "民初",
        1234,
    )
    assert (record.role, record.role_original, record.observed_on) == (
        "defendant",
        "被告",
        dt.date(2024, 3, 5),
    )
    assert record.record_key.startswith("court:")
    again = court_row(
        {
            "案号": "（2024）闽0103民初1234号",
            "当事人": "張三",
            "诉讼地位": "被告",
            "证件号码": number,
            "联系电话": "13900139000",
        },
        COURT_HEADER,
    )
    assert again.record is not None and again.record.record_key == record.record_key


def test_court_row_keys_differ_by_role_and_case() -> None:
    base = {"案号": "(2024)闽0103民初1234号", "当事人": "张三", "诉讼地位": "被告", "联系电话": "13800138000"}
    keys = {
        court_row(cells, COURT_HEADER).record.record_key
        for cells in (  # type: ignore[union-attr]
            base,
            {**base, "诉讼地位": "原告"},
            {**base, "案号": "(2024)闽0103民初1235号"},
        )
    }
    assert len(keys) == 3


def test_an_unparsable_case_number_is_kept_as_reference_with_a_warning() -> None:
    result = court_row({"案号": "民初字第12号", "当事人": "张三", "联系电话": "13800138000"}, COURT_HEADER)
    assert result.record is not None and result.record.reference == "民初字第12号"
    assert result.record.case_year is None and reasons(result)[0][0] == "case_number"


@pytest.mark.parametrize(
    ("raw", "role"),
    [
        ("被告", "defendant"),
        ("原告", "plaintiff"),
        ("第三人", "third_party"),
        ("被执行人", "judgment_debtor"),
        ("申请执行人", "judgment_creditor"),
        ("上诉人", "appellant"),
        (" 被上诉人 ", "appellee"),
        ("证人", None),
    ],
)
def test_court_roles(raw: str, role: str | None) -> None:
    assert court_role(raw) == role


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("12,345.60", ("12345.60", None)),
        ("¥12,345.60", ("12345.60", "CNY")),
        ("1.2万", ("12000.00", None)),
        ("3亿", ("300000000.00", None)),
        ("￥１，０００元", ("1000.00", "CNY")),
        ("$100", ("100.00", "USD")),
        (12345.6, ("12345.60", None)),
        (100, ("100.00", None)),
    ],
)
def test_amounts(cell: object, expected: tuple[str, str | None]) -> None:
    amount, currency = parse_amount(cell)  # type: ignore[arg-type]
    assert (str(amount), currency) == expected


@pytest.mark.parametrize("cell", ["abc", "-5", "1e30", ""])
def test_bad_amounts(cell: str) -> None:
    with pytest.raises(BadValue):
        parse_amount(cell)


@pytest.mark.parametrize(
    "cell",
    [
        "1990-01-02",
        "1990/1/2",
        "19900102",
        "1990年1月2日",
        "1990.01.02",
        "1990-01-02 00:00:00",
        dt.datetime(1990, 1, 2, 0, 0),
        dt.date(1990, 1, 2),
        32875,
        "32875",
        "１９９０－０１－０２",
    ],
)
def test_dates(cell: object) -> None:
    assert parse_date(cell, earliest=dt.date(1900, 1, 1), latest=TODAY) == dt.date(1990, 1, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", ["1990-13-01", "yesterday", "2090-01-01", "1890-01-01"])
def test_bad_dates(cell: str) -> None:
    with pytest.raises(BadValue):
        parse_date(cell, earliest=dt.date(1900, 1, 1), latest=TODAY)


@pytest.mark.parametrize(
    ("cell", "gender"),
    [("男", "M"), ("女", "F"), ("M", "M"), ("f", "F"), (1, "M"), ("2", "F"), ("未知", None)],
)
def test_genders(cell: object, gender: str | None) -> None:
    assert parse_gender(cell) == gender  # type: ignore[arg-type]


def test_no_reason_ever_holds_an_unmasked_id_or_phone() -> None:
    wrong = bad_check(resident_id())
    results = [
        bank_row({"客户号": "B1", "姓名": "张三", "身份证号": wrong, "手机号": "1380013800"}),
        bank_row({"客户号": "B1", "姓名": "张三", "身份证号": "35010319900102123", "手机号": "23800138000"}),
        bank_row(
            {"客户号": "B1", "姓名": "张三", "身份证号": "91350100M000100Y44", "手机号": "138001380001"}
        ),
    ]
    for result in results:
        assert result.issues
        for issue in result.issues:
            assert not UNMASKED.search(issue.reason), issue.reason


def test_a_court_key_is_keyed_so_it_cannot_be_recomputed_from_the_clear_fields() -> None:
    import hashlib

    cells = {
        "案号": "(2024)闽0103民初1234号",
        "当事人": "张三",
        "诉讼地位": "被告",
        "证件号码": resident_id(),
    }
    record = court_row(cells, COURT_HEADER).record
    other = court_row(cells, COURT_HEADER, secret=b"q" * 32).record
    assert record is not None and other is not None
    assert record.record_key != other.record_key  # the secret, not the fields alone, decides it
    fields = "\x1f".join([record.reference or "", record.name, record.id_number or "", record.role or ""])
    plain = hashlib.sha256(fields.encode()).hexdigest()[:48]
    assert record.record_key == "court:" + court_key_of_digest(plain, SECRET) != "court:" + plain
    with pytest.raises(ValueError, match="secret"):
        RowNormaliser("court", map_headers(COURT_HEADER, "court"), 9, TODAY, 500)
