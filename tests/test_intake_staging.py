"""Folding a file's earlier row into a later one with the same key, as the database upsert does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from contactfix.intake.rows import ContactValue, PartyRecord
from contactfix.intake.staging import DEBTOR_FIELDS, RECORD_COLUMNS, merge_staged, stage
from contactfix.privacy.sealing import is_sealed, open_value


def _record(row: int, **fields: object) -> PartyRecord:
    record = PartyRecord(row, "bank:1:B1", "B1", "张三", "张三", observed_on=dt.date(2024, 5, 6))
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def _value(staged_values: tuple[object, ...], names: tuple[str, ...], name: str) -> object:
    return staged_values[names.index(name)]


def test_stage_writes_dates_and_amounts_as_text() -> None:
    staged = stage(_record(2, birth_date=dt.date(1990, 1, 2), amount_owed=Decimal("12.50")), debtor=True)
    assert _value(staged.values, RECORD_COLUMNS, "birth_date") == "1990-01-02"
    assert _value(staged.debtor, DEBTOR_FIELDS, "amount_owed") == "12.50"
    assert staged.seen == "2024-05-06" and stage(_record(2), debtor=False).debtor == ()


def test_later_row_wins_and_keeps_what_it_leaves_blank() -> None:
    earlier = _record(
        2,
        id_type="resident_id",
        id_number="X1",
        id_prefix="350103",
        id_suffix="1234",
        birth_date=dt.date(1990, 1, 2),
        amount_owed=Decimal("5.00"),
        currency="USD",
        address="福州",
        contacts=[
            ContactValue("phone", "+8613800138000", "13800138000"),
            ContactValue("address", "福州", "福州"),
        ],
    )
    later = _record(
        9, name="张三丰", name_original="张三丰", contacts=[ContactValue("phone", "+8613800138000", "138")]
    )
    merged = merge_staged(stage(later, debtor=True), stage(earlier, debtor=True))
    values = dict(zip(RECORD_COLUMNS, merged.values, strict=True))
    assert is_sealed(str(values["id_number"])) and is_sealed(str(merged.contacts[0][1]))  # at rest
    assert (merged.row, values["name"], open_value(values["id_number"]), values["birth_date"]) == (
        9,
        "张三丰",
        "X1",
        "1990-01-02",
    )
    debtor = dict(zip(DEBTOR_FIELDS, merged.debtor, strict=True))
    assert (debtor["amount_owed"], debtor["currency"], debtor["name"]) == ("5.00", "USD", "张三丰")
    opened = [(open_value(c[1]), open_value(c[2])) for c in merged.contacts]
    assert opened == [("+8613800138000", "138"), ("福州", None)]  # None: as written, the value itself


def test_the_id_fields_move_as_one_group() -> None:
    earlier = _record(2, id_type="resident_id", id_number="X1", id_prefix="350103", id_suffix="1234")
    later = _record(3, id_type="resident_id_masked", id_prefix="110101", id_suffix="5678")
    values = dict(
        zip(
            RECORD_COLUMNS,
            merge_staged(stage(later, debtor=False), stage(earlier, debtor=False)).values,
            strict=True,
        )
    )
    assert (values["id_type"], values["id_number"], values["id_prefix"]) == (
        "resident_id_masked",
        None,
        "110101",
    )
