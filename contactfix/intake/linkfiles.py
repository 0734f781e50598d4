"""The input files of ``contactfix link``, read the way intake reads a bank batch.

CSV in UTF-8 (with or without BOM), UTF-16 or GB18030 with any of intake's delimiters, XLSX, or
JSON lines; headers in the canonical English names or as banks and courts write them (姓名 → name,
身份证号 → id_number, 客户号 → id …). A large, clean UTF-8 CSV goes through pyarrow instead.

Memory per field is bounded and nothing ends in a traceback: a value longer than
:data:`MAX_VALUE_LENGTH` is left blank, and a row the reader cannot read (a field or line over
intake's limits) is left out, each with a warning that counts them and never quotes a value.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contactfix.errors import IntakeError
from contactfix.intake.headers import canonical_field, normalise_header
from contactfix.intake.reader import Cell, UnreadableRow, inspect_file, open_table
from contactfix.intake.receipt import mask_digit_runs
from contactfix.intake.values import cell_text
from matchers.normalize import CANONICAL_COLUMNS, RawTable

__all__ = ["MAX_VALUE_LENGTH", "link_column", "read_link_table"]

MAX_VALUE_LENGTH = 1000
"""Longer values are left blank: no name, identifier or address is this long, and comparing one
that is costs memory in proportion (a 300,000-character address once took 4.7 GB)."""

# Above this size a clean UTF-8 CSV is read with pyarrow: import time would dominate below it.
_ARROW_FROM_BYTES = 16 * 1024 * 1024
_NO_SIZE_LIMIT = 1 << 50  # link reads what it is given; intake's size limit is for uploads
_HEADER_LINE_LIMIT = 1 << 20
_LINK_COLUMNS = ("id", *CANONICAL_COLUMNS)
_DIRECT = {normalise_header(name): name for name in _LINK_COLUMNS}
# Link's columns that intake has no field for, as Chinese exports name them.
_CHINESE = {
    "姓": "family_name", "姓氏": "family_name", "名": "given_name",
    "城市": "city", "所在城市": "city", "邮编": "postcode", "邮政编码": "postcode",
    "省": "region", "省份": "region", "地区": "region", "所在地区": "region",
}  # fmt: skip
# Intake's fields that are link's columns under another name.
_FROM_INTAKE = {"reference": "id"}


def link_column(header: str) -> str | None:
    """The link column a header stands for: a canonical name (``id``, ``name``, ``given_name`` …)
    or, as intake reads a header, an alias of one (姓名, 身份证号码, 手机号, 客户号 → ``id`` …)."""
    key = normalise_header(header)
    if key in _DIRECT:
        return _DIRECT[key]
    if key in _CHINESE:
        return _CHINESE[key]
    found = canonical_field(header, "court")
    found = _FROM_INTAKE.get(found, found) if found is not None else None
    return found if found in _LINK_COLUMNS else None


def _positions(headers: Sequence[str], taken: dict[str, int]) -> None:
    """Add to ``taken`` (column → position) the columns ``headers`` name that it lacks: a header
    spelled as the column's own name wins over an alias, else the leftmost alias."""
    aliased: dict[str, int] = {}
    for position, header in enumerate(headers):
        column = link_column(header) if header else None
        if column is None:
            continue
        if normalise_header(header) in _DIRECT:
            taken.setdefault(column, position)
        else:
            aliased.setdefault(column, position)
    for column, position in aliased.items():
        taken.setdefault(column, position)


@dataclass
class _Columns:
    """The link columns being filled row by row, with what was left out along the way."""

    taken: dict[str, int] = field(default_factory=dict)
    values: dict[str, list[str | None]] = field(default_factory=dict)
    rows: int = 0
    too_long: dict[str, int] = field(default_factory=dict)
    unreadable: list[int] = field(default_factory=list)

    def map(self, headers: Sequence[str]) -> None:
        _positions(headers, self.taken)
        for column in self.taken:
            self.values.setdefault(column, [None] * self.rows)

    def add(self, cells: Sequence[Cell]) -> None:
        width = len(cells)
        for column, position in self.taken.items():
            cell = cells[position] if position < width else None
            text = cell if type(cell) is str else (cell_text(cell) if cell is not None else None)
            if text is not None and len(text) > MAX_VALUE_LENGTH:
                self.too_long[column] = self.too_long.get(column, 0) + 1
                text = None
            self.values[column].append(text)
        self.rows += 1

    def warnings(self, label: str) -> list[str]:
        found = [
            f"{label}: {count:,} value(s) in column '{column}' longer than {MAX_VALUE_LENGTH:,} "
            "characters; left blank"
            for column, count in self.too_long.items()
        ]
        if self.unreadable:
            shown = ", ".join(str(row) for row in self.unreadable[:5])
            more = " …" if len(self.unreadable) > 5 else ""
            found.append(
                f"{label}: {len(self.unreadable):,} row(s) could not be read (a field or line too long) "
                f"and are left out: row {shown}{more}"
            )
        return found


def read_link_table(path: Path, warnings: list[str]) -> RawTable:
    """A :class:`RawTable` from a file with a header and an ``id`` column; warnings appended.

    Raises :class:`IntakeError` for a file that cannot be read or has no ``id`` column.
    """
    from matchers.inputs import table_from_columns

    label = mask_digit_runs(path.name)
    if path.is_file() and path.stat().st_size > _ARROW_FROM_BYTES:
        table = _read_with_arrow(path, label, warnings)
        if table is not None:
            return table
    facts = inspect_file(path, _NO_SIZE_LIMIT)
    if facts.encoding == "gb18030":
        warnings.append(f"{label}: read as GB18030 (not UTF-8)")
    rows = open_table(facts, lambda cells: any(link_column(cell) == "id" for cell in cells if cell))
    columns = _Columns()
    columns.map(rows.headers)
    mapped = len(rows.headers)
    for number, cells in rows:
        if type(cells) is UnreadableRow:
            columns.unreadable.append(number)
            continue
        if all(cell is None or (type(cell) is str and not cell.strip()) for cell in cells):
            continue
        if len(rows.headers) > mapped:  # JSON lines: keys appear with the objects
            columns.map(rows.headers)
            mapped = len(rows.headers)
        columns.add(cells)
    if "id" not in columns.taken:
        raise IntakeError(f"{label}: no 'id' column (columns found: {_shown_headers(rows.headers)})")
    warnings += columns.warnings(label)
    return table_from_columns(list(columns.values), columns.values, label)


def _shown_headers(headers: Sequence[str]) -> str:
    return ", ".join(repr(mask_digit_runs(h[:40])) for h in headers[:12] if h) or "none"


def _read_with_arrow(path: Path, label: str, warnings: list[str]) -> RawTable | None:
    """The table read by pyarrow (multithreaded, columnar), or None when pyarrow is absent or the file
    is not plain UTF-8 CSV that it can read (the general path then reads or reports it)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    from matchers.inputs import table_from_arrow

    header = _first_record(path)
    if not header:
        return None
    taken: dict[str, int] = {}
    _positions(header, taken)
    if "id" not in taken or len(set(header)) != len(header):
        return None
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.column_names != header:  # a header arrow reads otherwise (a quoted line break in it)
        return None
    filled = None  # rows with a value in some column: a row of empty cells is not a record
    for values in table.columns:
        some = pc.not_equal(pc.utf8_trim_whitespace(values), "")
        filled = some if filled is None else pc.or_(filled, some)
    if filled is not None and not pc.all(filled).as_py():
        table = table.filter(filled)
    kept: dict[str, Any] = {}
    for column, position in taken.items():
        values = table.column(position)
        too_long = pc.greater(pc.utf8_length(values), MAX_VALUE_LENGTH)
        count = pc.sum(too_long).as_py() or 0
        if count:
            warnings.append(
                f"{label}: {count:,} value(s) in column '{column}' longer than {MAX_VALUE_LENGTH:,} "
                "characters; left blank"
            )
            values = pc.if_else(too_long, pa.scalar(None, pa.string()), values)
        kept[column] = values
    del table
    raw = table_from_arrow(pa.table(kept), label)
    # Arrow's allocator keeps freed pages for reuse by Arrow only; hand them back (about 250 MB a file).
    pa.default_memory_pool().release_unused()
    return raw


def _first_record(path: Path) -> list[str] | None:
    """The header of a UTF-8 CSV file, or None when it is not one the arrow path can take."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            line = handle.readline(_HEADER_LINE_LIMIT)
        return next(csv.reader([line]), None)
    except (UnicodeDecodeError, csv.Error, OSError):
        return None
