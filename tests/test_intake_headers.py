"""Header aliases: canonical English names and the Chinese headers banks and courts use."""

from __future__ import annotations

import pytest

from contactfix.errors import IntakeError
from contactfix.intake.headers import canonical_field, map_headers, normalise_header, recognises_header


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("reference", "reference"),
        ("ID", "reference"),
        ("客户号", "reference"),
        ("客户编号", "reference"),
        ("Name", "name"),
        ("借款人姓名", "name"),
        ("客户名称", "name"),
        ("ID Number", "id_number"),
        ("id_number", "id_number"),
        ("*身份证号码：", "id_number"),
        ("证件号码", "id_number"),
        ("手机号", "phone"),
        ("移动电话", "phone"),
        ("联系方式", "phone"),
        ("户籍地址", "address"),
        ("现住址", "address"),
        ("出生日期", "birth_date"),
        ("性别", "gender"),
        ("借款合同号", "contract_number"),
        ("欠款金额(元)", "amount"),
        ("贷款余额（万元）", "amount"),
        ("本金余额", "amount"),
        ("产品名称", "product"),
        ("ｐｈｏｎｅ", "phone"),  # full-width Latin letters
        (" 姓 名 ", "name"),
        ("\ufeff客户号", "reference"),
    ],
)
def test_bank_aliases(header: str, field: str) -> None:
    assert canonical_field(header, "bank") == field


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("案号", "case_number"),
        ("当事人", "name"),
        ("被执行人", "name"),
        ("诉讼地位", "role"),
        ("角色", "role"),
        ("立案日期", "filed_on"),
        ("立案时间", "filed_on"),
        ("case_number", "case_number"),
    ],
)
def test_court_aliases(header: str, field: str) -> None:
    assert canonical_field(header, "court") == field


def test_court_fields_are_unknown_in_a_bank_batch() -> None:
    assert canonical_field("案号", "bank") is None


def test_normalise_header_drops_units_and_punctuation() -> None:
    assert normalise_header("欠款金额（元）") == normalise_header("欠款金额") == "欠款金额"
    assert normalise_header("Contract-No.") == "contractno"


def test_map_headers_keeps_every_phone_and_address_column_and_lists_unknown() -> None:
    header_map = map_headers(["客户号", "姓名", "手机号", "联系电话", "住址", "备注", ""], "bank")
    assert header_map.columns == {"reference": [0], "name": [1], "phone": [2, 3], "address": [4]}
    assert header_map.unknown == ["备注"]


def test_bank_batch_without_reference_is_refused() -> None:
    with pytest.raises(IntakeError, match=r"no reference column.*Headers found: '姓名', '手机号'"):
        map_headers(["姓名", "手机号"], "bank")


def test_no_name_column_lists_headers_and_masks_numbers() -> None:
    # A file without a header: its first data row is taken as the header and must not leak PII.
    with pytest.raises(IntakeError, match="no name column") as caught:
        map_headers(["B1", "110101199003074578", "13800138000"], "court")
    message = str(caught.value)
    assert "110101199003074578" not in message and "13800138000" not in message
    assert "name / 姓名" in message


def test_court_export_needs_only_a_name() -> None:
    assert map_headers(["当事人", "案号"], "court").columns == {"name": [0], "case_number": [1]}


def test_recognises_header() -> None:
    assert recognises_header(["序号", "姓名"]) and not recognises_header(["XX银行失联名单"])


def test_a_receipt_names_fields_as_the_headers_chinese_readers_write() -> None:
    from contactfix.intake.headers import field_label

    assert [field_label(f) for f in ("phone", "name", "case_number", "lost_on", "row")] == [
        "手机号", "姓名", "案号", "失联日期", "整行",
    ]  # fmt: skip
    assert field_label("备注") == "备注"  # an unknown column keeps its own header
