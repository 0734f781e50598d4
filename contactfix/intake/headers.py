"""Map the headers banks and courts write to contactfix's canonical field names.

A header is matched after NFKC (full-width → half-width), case-folding, dropping a bracketed unit
(``欠款金额(元)``, ``金额（万元）``), spaces, ``_ - * : .`` — so ``ID Number``, ``id_number`` and
``*身份证号码：`` all mean ``id_number``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from contactfix.errors import IntakeError
from contactfix.intake.receipt import mask_digit_runs

__all__ = [
    "BANK_FIELDS",
    "COURT_FIELDS",
    "MULTI_VALUED",
    "HeaderMap",
    "canonical_field",
    "map_headers",
    "normalise_header",
    "recognises_header",
]

Kind = Literal["bank", "court"]

# Fields whose every column is kept: a bank often has 手机号 and 联系电话, 户籍地址 and 现住址.
MULTI_VALUED = frozenset({"phone", "address", "email", "third_party_phone"})

_COMMON: dict[str, tuple[str, ...]] = {
    "reference": (
        "reference",
        "id",
        "ref",
        "客户号",
        "客户编号",
        "客户代码",
        "客户id",
        "债务人编号",
        "借据号",
        "记录编号",
        "编号",
    ),
    "name": (
        "name",
        "fullname",
        "姓名",
        "客户姓名",
        "客户名称",
        "名称",
        "借款人",
        "借款人姓名",
        "借款人名称",
        "债务人",
        "债务人姓名",
        "债务人名称",
        "当事人",
        "当事人姓名",
        "当事人名称",
        "被执行人",
        "被执行人姓名",
        "被执行人名称",
        "户名",
        "企业名称",
        "单位名称",
    ),
    "id_type": ("idtype", "证件类型", "证件种类"),
    "id_number": (
        "idnumber",
        "idno",
        "idcard",
        "residentid",
        "nationalid",
        "creditcode",
        "身份证",
        "身份证号",
        "身份证号码",
        "证件号",
        "证件号码",
        "居民身份证号码",
        "公民身份号码",
        "统一社会信用代码",
        "组织机构代码",
        "营业执照号",
        "证照号码",
    ),
    "birth_date": ("birthdate", "dateofbirth", "dob", "birthday", "出生日期", "出生年月", "生日"),
    "gender": ("gender", "sex", "性别"),
    "phone": (
        "phone",
        "mobile",
        "tel",
        "telephone",
        "phonenumber",
        "mobilephone",
        "手机号",
        "手机号码",
        "手机",
        "联系电话",
        "电话",
        "电话号码",
        "移动电话",
        "联系方式",
        "联系号码",
        "固定电话",
        "固话",
        "住宅电话",
        "单位电话",
        "预留手机号",
        "预留电话",
    ),
    "address": (
        "address",
        "addr",
        "地址",
        "住址",
        "户籍地址",
        "户籍地",
        "家庭住址",
        "家庭地址",
        "现住址",
        "居住地址",
        "通讯地址",
        "联系地址",
        "单位地址",
        "工作单位地址",
        "送达地址",
        "经常居住地",
        "注册地址",
        "住所地",
        "住所",
    ),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件"),
    "contract_number": (
        "contractnumber",
        "contractno",
        "contract",
        "loannumber",
        "合同编号",
        "合同号",
        "借款合同号",
        "借款合同编号",
        "贷款合同号",
        "贷款合同编号",
        "借据编号",
    ),
    "amount": (
        "amount",
        "amountowed",
        "balance",
        "debt",
        "欠款金额",
        "欠款",
        "欠款总额",
        "贷款余额",
        "本金余额",
        "借款余额",
        "逾期金额",
        "逾期总额",
        "欠款本金",
        "剩余本金",
        "标的额",
        "标的金额",
        "执行标的",
        "未履行金额",
    ),
    "currency": ("currency", "币种", "货币"),
    "product": ("product", "productname", "产品", "产品名称", "贷款产品", "业务品种", "贷款品种"),
}
# The day the bank lost the debtor: its contacts are known to have failed as of then. And the numbers
# of other people the bank holds for the debtor (an emergency contact, a spouse): never the debtor's.
_BANK: dict[str, tuple[str, ...]] = {
    "lost_on": ("lostdate", "lostsince", "失联日期", "失联时间", "最后联系日期", "最后联系时间"),
    "third_party_phone": (
        "emergencyphone",
        "emergencycontactphone",
        "contactpersonphone",
        "紧急联系人电话",
        "紧急联系人手机",
        "紧急联系人手机号",
        "紧急联系人号码",
        "紧急联系电话",
        "联系人电话",
        "联系人手机",
        "亲属电话",
        "亲属联系电话",
        "配偶电话",
        "配偶手机",
        "家属电话",
    ),
}
_COURT: dict[str, tuple[str, ...]] = {
    "case_number": ("casenumber", "caseno", "case", "案号", "案件编号", "案件号"),
    "role": ("role", "partyrole", "诉讼地位", "当事人地位", "角色", "身份"),
    "filed_on": ("filedon", "fileddate", "filingdate", "立案日期", "立案时间", "收案日期", "受理日期"),
}
BANK_FIELDS = frozenset(_COMMON) | frozenset(_BANK)
COURT_FIELDS = frozenset(_COMMON) | frozenset(_COURT)

_UNIT = re.compile(r"[(\[【][^)\]】]*[)\]】]")
_NOISE = re.compile(r"[\s_\-*:.#/\\]+")


def normalise_header(raw: str) -> str:
    """The header as it is compared: half-width, case-folded, without units, spaces or punctuation."""
    text = unicodedata.normalize("NFKC", raw).replace("\ufeff", "").casefold()
    return _NOISE.sub("", _UNIT.sub("", text))


def _alias_table(groups: Sequence[dict[str, tuple[str, ...]]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for group in groups:
        for canonical, aliases in group.items():
            for alias in (canonical, *aliases):
                table[normalise_header(alias)] = canonical
    return table


_ALIASES: dict[str, dict[str, str]] = {
    "bank": _alias_table([_COMMON, _BANK]),
    "court": _alias_table([_COMMON, _COURT]),
}


def field_label(field: str) -> str:
    """What a Chinese reader calls ``field``: its first Chinese header alias (``phone`` → 手机号);
    a field without one (``row``, an unknown column's own header) as it is."""
    if field == "row":
        return "整行"
    for group in (_COMMON, _BANK, _COURT):
        for alias in group.get(field, ()):
            if not alias.isascii():
                return alias
    return field


def canonical_field(raw: str, kind: Kind) -> str | None:
    """The canonical field a header stands for in a ``kind`` file, or None when it is unknown."""
    return _ALIASES[kind].get(normalise_header(raw))


def recognises_header(cells: Sequence[str], kind: Kind = "court") -> bool:
    """True when ``cells`` look like a header row: one of them names the ``name`` field."""
    return any(canonical_field(cell, kind) == "name" for cell in cells if cell)


@dataclass
class HeaderMap:
    """Where each canonical field is: ``columns[field]`` lists column positions, first = preferred."""

    columns: dict[str, list[int]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    mapped: int = 0
    """How many header cells have been mapped (JSON lines grow their header as keys appear)."""

    def extend(self, headers: Sequence[str], kind: Kind) -> list[tuple[int, str]]:
        """Map the headers from position ``mapped`` on; return the new unknown (non-blank) ones."""
        new_unknown: list[tuple[int, str]] = []
        for position in range(self.mapped, len(headers)):
            header = headers[position]
            canonical = canonical_field(header, kind) if header else None
            if canonical is None:
                if header:
                    new_unknown.append((position, header))
                continue
            self.columns.setdefault(canonical, []).append(position)
        self.mapped = len(headers)
        self.unknown += [header for _, header in new_unknown]
        return new_unknown


def map_headers(headers: Sequence[str], kind: Kind, *, streaming: bool = False) -> HeaderMap:
    """Map a file's header row, or raise :class:`IntakeError` when it cannot be used.

    A file needs a ``name`` column; a bank batch also needs ``reference`` (the bank's own key for the
    debtor). ``streaming`` (JSON lines) defers both checks to the rows: their keys appear as they come.
    """
    header_map = HeaderMap()
    header_map.extend(headers, kind)
    if streaming:
        return header_map
    required = ["name", "reference"] if kind == "bank" else ["name"]
    missing = [name for name in required if name not in header_map.columns]
    if missing:
        expected = {
            "name": "name / 姓名 / 客户名称 / 借款人 / 当事人",
            "reference": "reference (or id) / 客户号 / 客户编号",
        }
        found = ", ".join(repr(mask_digit_runs(h[:40])) for h in headers[:30] if h) or "none"
        raise IntakeError(
            f"no {' and no '.join(missing)} column. Expected a header like "
            f"{'; '.join(expected[m] for m in missing)}. Headers found: {found}"
        )
    return header_map
