"""Identifier functions: resident IDs, credit codes, phones, names, court case numbers.

Pure functions, no I/O beyond the reference data shipped in :mod:`matchers.data`. Every public name
of the submodules is re-exported here; import from ``matchers.identifiers``.
"""

from __future__ import annotations

from matchers.identifiers.case_number import (
    PROVINCE_ABBREVIATIONS,
    CaseNumber,
    is_case_number,
    parse_case_number,
)
from matchers.identifiers.credit_code import CreditCode, credit_check_char, is_credit_code, parse_credit_code
from matchers.identifiers.names import (
    PersonName,
    is_company_name,
    normalize_company_name,
    normalize_person_name,
    split_chinese_name,
)
from matchers.identifiers.phone import LineType, Phone, is_phone, mask_phone, parse_phone
from matchers.identifiers.resident_id import (
    ResidentId,
    convert_15_to_18,
    county_name,
    id_check_digit,
    is_resident_id,
    mask_id,
    parse_resident_id,
)

__all__ = [
    "PROVINCE_ABBREVIATIONS",
    "CaseNumber",
    "CreditCode",
    "LineType",
    "PersonName",
    "Phone",
    "ResidentId",
    "convert_15_to_18",
    "county_name",
    "credit_check_char",
    "id_check_digit",
    "is_case_number",
    "is_company_name",
    "is_credit_code",
    "is_phone",
    "is_resident_id",
    "mask_id",
    "mask_phone",
    "normalize_company_name",
    "normalize_person_name",
    "parse_case_number",
    "parse_credit_code",
    "parse_phone",
    "parse_resident_id",
    "split_chinese_name",
]
