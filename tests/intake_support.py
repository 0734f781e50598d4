"""Builders for intake tests: valid resident IDs, and files written the way banks and courts write them."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

from matchers.identifiers import id_check_digit

# Shapes of an unmasked ID number or mainland mobile, for checking that nothing leaks.
UNMASKED = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15}|1[3-9]\d{9})(?!\d)")


def resident_id(county: str = "350103", birth: str = "19900102", sequence: str = "123") -> str:
    """A valid 18-digit resident ID (odd sequence: a man)."""
    first17 = county + birth + sequence
    return first17 + id_check_digit(first17)


def bad_check(valid_id: str) -> str:
    """``valid_id`` with a wrong check character."""
    return valid_id[:17] + ("0" if valid_id[17] != "0" else "1")


def write_csv(
    path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    """Rows (the first is the header) as delimited text in ``encoding``."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    """Rows as the first sheet of an XLSX workbook (typed cells stay typed)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write_jsonl(path: Path, objects: Sequence[dict[str, object]]) -> Path:
    """One JSON object per line, UTF-8."""
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects), encoding="utf-8")
    return path
