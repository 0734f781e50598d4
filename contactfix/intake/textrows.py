"""Rows of delimited text and of JSON lines, read one at a time in bounded memory.

A row that cannot be read on its own — a field over :data:`_CSV_FIELD_LIMIT`, a line over
:data:`_LINE_LIMIT`, JSON nested too deeply — becomes an :class:`UnreadableRow` and the rows after
it are read as usual; what makes the rest of the file unreadable raises :class:`IntakeError`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from contactfix.errors import IntakeError
from contactfix.intake.cells import Cell, RawRow, UnreadableRow
from contactfix.intake.receipt import error_text

__all__ = ["delimited_rows", "json_rows"]

# A field this long in delimited text is an unbalanced quote swallowing the file, or a row of junk:
# its row is rejected (or the file, when the quote never closes).
_CSV_FIELD_LIMIT = 1 << 17
# A physical line (CSV) or JSON line longer than this is rejected unread, so memory stays bounded.
_LINE_LIMIT = 1 << 20
_QUOTE = '"'
# A JSON integer with more digits than this is kept as its text: int() refuses over 4,300 digits,
# and no amount or date has this many.
_JSON_INT_DIGITS = 100


def delimited_rows(fh: io.TextIOBase, delimiter: str) -> Iterator[RawRow]:
    """The records of delimited text, numbered from 1. A record with a field or line over the limit
    is an :class:`UnreadableRow` and reading goes on after it; a quote that never closes, or a
    record the csv module cannot parse, raises :class:`IntakeError` naming the row."""
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    lines = _RecordLines(fh)
    # strict: a quote left open at the end of the file is an error, not one huge last field
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except _LineTooLong:
            number += 1
            lines.skip_record(number)
            yield number, UnreadableRow(f"a line longer than {_LINE_LIMIT:,} characters")
            continue
        except csv.Error as exc:
            number += 1
            if "field limit" not in str(exc):
                raise IntakeError(
                    f"row {number}: the CSV cannot be read ({error_text(exc)}) — an unbalanced quote?"
                ) from exc
            lines.skip_record(number)
            yield number, UnreadableRow(f"a field longer than {_CSV_FIELD_LIMIT:,} characters")
            continue
        number += 1
        lines.record.clear()
        yield number, row  # type: ignore[misc]  # list[str] is a list of cells; no copy made


class _LineTooLong(Exception):
    """Raised to the csv reader by :class:`_RecordLines` for a physical line over the limit."""


class _RecordLines:
    """The lines of a text file for the csv reader, remembering those of the record being read.

    When the reader gives up on a record (a field over its limit), :meth:`skip_record` reads on to
    the end of that record, so the next one is read from its start. A line over the limit is never
    held: it raises :class:`_LineTooLong` to the reader once skipped.
    """

    def __init__(self, fh: io.TextIOBase) -> None:
        self._fh = fh
        self._readline = fh.readline
        self.record: list[str] = []
        self._skipped_quotes = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._readline(_LINE_LIMIT)
        if not line:
            raise StopIteration
        if len(line) == _LINE_LIMIT and line[-1] not in "\r\n":
            self._skipped_quotes += line.count(_QUOTE) + _skip_line(self._fh)
            raise _LineTooLong
        self.record.append(line)
        return line

    def skip_record(self, number: int) -> None:
        """Read to the end of the record started in row ``number``: the line where its quotes balance.

        Raises :class:`IntakeError` when they never do (an unbalanced quote swallowing the file).
        """
        quotes = self._skipped_quotes + sum(line.count(_QUOTE) for line in self.record)
        self.record.clear()
        self._skipped_quotes = 0
        inside = quotes % 2 == 1
        while inside:
            line = self._readline(_LINE_LIMIT)
            if not line:
                raise IntakeError(
                    f"row {number}: a quoted field runs from this row to the end of the file"
                    " — an unbalanced quote?"
                )
            inside ^= line.count(_QUOTE) % 2 == 1
            if not inside and line[-1] not in "\r\n":  # a part of a long line: read on to its end
                inside ^= _skip_line(self._fh) % 2 == 1


def json_rows(fh: io.TextIOBase, headers: list[str], first_rows: list[int]) -> Iterator[RawRow]:
    """Each JSON-lines object as a row aligned to ``headers`` (extended in place by new keys; the line
    of each new key appended to ``first_rows``). Lines over the limit and objects nested too deeply
    are :class:`UnreadableRow` s; a line that is not a JSON object raises :class:`IntakeError`."""
    index: dict[str, int] = {}
    for number, line in enumerate(_bounded_lines(fh), start=1):
        if line is None:
            yield number, UnreadableRow(f"a line longer than {_LINE_LIMIT:,} characters")
            continue
        if not line.strip():
            continue
        try:
            obj = _json_object(line, number)
            items = [(key, _json_cell(value)) for key, value in obj.items()]
        except RecursionError:
            yield number, UnreadableRow("JSON nested too deeply to read")
            continue
        cells: list[Cell] = [None] * len(headers)
        for key, value in items:
            position = index.get(key)
            if position is None:
                position = index[key] = len(headers)
                headers.append(str(key))
                first_rows.append(number)
                cells.append(None)
            cells[position] = value
        yield number, cells


def _bounded_lines(fh: io.TextIOBase) -> Iterator[str | None]:
    """The lines of ``fh``; None for a line over the limit, which is skipped without holding it."""
    while line := fh.readline(_LINE_LIMIT):
        if len(line) == _LINE_LIMIT and line[-1] not in "\r\n":
            _skip_line(fh)
            yield None
        else:
            yield line


def _skip_line(fh: io.TextIOBase) -> int:
    """Read past the end of the current line; return how many quote characters the rest held."""
    quotes = 0
    while part := fh.readline(_LINE_LIMIT):
        quotes += part.count(_QUOTE)
        if part[-1] in "\r\n":
            break
    return quotes


def _json_object(line: str, number: int) -> dict[str, Any]:
    """The object on one JSON line; IntakeError when the line is not JSON or not an object."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise IntakeError(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
    except ValueError:  # an integer of more than 4,300 digits
        obj = json.loads(line, parse_int=_json_int)
    if not isinstance(obj, dict):
        raise IntakeError(f"line {number}: a JSON object was expected, found {type(obj).__name__}")
    return obj


def _json_int(text: str) -> int | str:
    return int(text) if len(text) <= _JSON_INT_DIGITS else text


def _json_cell(value: object) -> Cell:
    if isinstance(value, list):
        # several phones or addresses given as a JSON array: one cell, separated as in a spreadsheet
        return ";".join(str(item) for item in value if item is not None)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False)
