"""Read a submitted file as a stream of rows, whatever its format and encoding.

The format is detected from the bytes, never from the extension: an XLSX workbook is a zip archive
holding ``xl/workbook.xml``; JSON lines start with ``{``; anything else must be delimited text
(``,`` ``\\t`` ``;`` ``|``) in UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode
text"), or GB18030. A file that is none of these raises :class:`IntakeError` naming the cause.

:func:`inspect_file` reads the whole file once (SHA-256 and a strict decode), so a bad byte is
found before anything is stored; :func:`open_table` then streams the rows in bounded memory. A row
that cannot be read on its own (a field or line over the limit, JSON nested too deeply) comes out as
an :class:`UnreadableRow` and the rows after it are read as usual.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from contactfix.errors import IntakeError
from contactfix.intake.cells import Cell, RawRow, UnreadableRow
from contactfix.intake.receipt import mask_digit_runs
from contactfix.intake.textrows import delimited_rows, json_rows

__all__ = ["Cell", "FileFacts", "RawRow", "Table", "UnreadableRow", "inspect_file", "open_table"]

Format = Literal["csv", "xlsx", "jsonl"]

_CHUNK = 1 << 20
_SAMPLE = 64 * 1024
_DELIMITERS = (",", "\t", ";", "|")
# Magic numbers of files people upload by mistake, so the error says what the file is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.xls/.doc) or an encrypted workbook"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"BM", "a BMP image"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class FileFacts:
    """What :func:`inspect_file` learnt: enough to read the rows and to recognise a re-submission."""

    path: Path
    size: int
    sha256: str
    format: Format
    encoding: str | None = None
    delimiter: str | None = None


def inspect_file(path: Path, max_file_bytes: int) -> FileFacts:
    """Identify the file's format and encoding and hash its bytes, or raise :class:`IntakeError`.

    Text files are decoded in full, strictly, so an encoding error is reported (with its byte
    offset) before any row is stored. Empty files and files larger than ``max_file_bytes`` are refused.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IntakeError(f"{_shown(path)}: cannot read the file ({exc.strerror})") from exc
    if size > max_file_bytes:
        raise IntakeError(f"{_shown(path)}: {size} bytes, larger than the limit of {max_file_bytes} bytes")
    if size == 0:
        raise IntakeError(f"{_shown(path)}: the file is empty")
    with path.open("rb") as fh:
        head = fh.read(_SAMPLE)
    _refuse_known_binaries(path, head)
    if head.startswith(b"PK\x03\x04"):
        return FileFacts(path, size, _sha256(path), "xlsx")
    encoding, digest = _detect_encoding(path)
    sample = _decoded_sample(head, encoding)
    _refuse_markup(path, sample)
    stripped = sample.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise IntakeError(f"{_shown(path)}: the file holds only blank lines")
    if stripped.startswith("{"):
        return FileFacts(path, size, digest, "jsonl", encoding)
    return FileFacts(path, size, digest, "csv", encoding, _sniff_delimiter(path, sample))


class Table:
    """A header and the data rows below it, streamed once.

    ``headers`` are the header cells as text. For JSON lines there is no header line: ``headers``
    starts empty and grows as new keys appear, and each row is aligned to it at the time it is
    yielded (callers re-map when it has grown). ``header_row`` is the header's row number (0: none).
    ``bytes_read()`` tells how far into a text file the reading is (None for XLSX), for progress.
    """

    def __init__(
        self, headers: list[str], header_row: int, rows: Iterator[RawRow], counter: _ByteCounter | None = None
    ) -> None:
        self.headers = headers
        self.header_row = header_row
        self._rows = rows
        self._counter = counter
        self.first_rows: list[int] = []  # JSON lines: where each key was first seen

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    def with_rows(self, rows: Iterator[RawRow]) -> Table:
        """The same table reading ``rows`` instead (after a caller has peeked at some of them)."""
        table = Table(self.headers, self.header_row, rows, self._counter)
        table.first_rows = self.first_rows
        return table

    def header_source(self, position: int) -> int:
        """The row that introduced header ``position``: the header row, or a JSON line with a new key."""
        return self.first_rows[position] if position < len(self.first_rows) else self.header_row

    def bytes_read(self) -> int | None:
        """Bytes of the file consumed so far (text files), or None when unknown (XLSX)."""
        return self._counter.count if self._counter is not None else None


class _ByteCounter(io.RawIOBase):
    """A binary file that counts what it hands to the text decoder: progress without ``tell()``."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


def _open_text(facts: FileFacts, counter: _ByteCounter) -> io.TextIOWrapper:
    assert facts.encoding is not None
    return io.TextIOWrapper(io.BufferedReader(counter, _CHUNK), encoding=facts.encoding, newline="")


def open_table(facts: FileFacts, recognise: Callable[[Sequence[str]], bool]) -> Table:
    """The table in the file: its header is the first of the first 10 non-blank rows ``recognise``
    accepts (else the first non-blank row, which the caller will reject). For XLSX the first sheet
    with such a header is read, else the first sheet. Raises :class:`IntakeError` for an empty table.
    """
    counter = None if facts.format == "xlsx" else _ByteCounter(facts.path.open("rb"))
    if facts.format == "jsonl":
        assert counter is not None
        headers: list[str] = []
        table = Table(headers, 0, iter(()), counter)
        table._rows = _json_rows(facts, headers, table.first_rows, counter)
        return table
    rows = _xlsx_rows(facts.path, recognise) if counter is None else _csv_rows(facts, counter)
    leading: list[RawRow] = []
    for number, cells in rows:
        if _blank(cells):
            continue
        leading.append((number, cells))
        if recognise(_texts(cells)) or len(leading) == 10:
            break
    if not leading:
        raise IntakeError(f"{_shown(facts.path)}: no rows at all (only blank lines or empty cells)")
    found = next((i for i, (_, cells) in enumerate(leading) if recognise(_texts(cells))), 0)
    header_row, header_cells = leading[found]
    rest = itertools.chain(leading[found + 1 :], rows)
    return Table(_texts(header_cells), header_row, rest, counter)


def _blank(cells: Sequence[Cell]) -> bool:
    if type(cells) is UnreadableRow:
        return False
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _texts(cells: Sequence[Cell]) -> list[str]:
    return ["" if cell is None else str(cell).strip() for cell in cells]


def _json_rows(
    facts: FileFacts, headers: list[str], first_rows: list[int], counter: _ByteCounter
) -> Iterator[RawRow]:
    with _open_text(facts, counter) as fh:
        yield from json_rows(fh, headers, first_rows)


def _csv_rows(facts: FileFacts, counter: _ByteCounter) -> Iterator[RawRow]:
    assert facts.delimiter is not None
    with _open_text(facts, counter) as fh:
        yield from delimited_rows(fh, facts.delimiter)


def _shown(path: Path) -> str:
    """The file's name as an error message may show it: a phone or ID number in it masked."""
    return mask_digit_runs(path.name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse_known_binaries(path: Path, head: bytes) -> None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise IntakeError(
                f"{_shown(path)}: this is {what}, not a table (expected CSV, XLSX or JSON lines)"
            )
    if head.startswith(b"PK\x03\x04") and not _is_xlsx(path):
        raise IntakeError(f"{_shown(path)}: a zip archive but not an XLSX workbook (no xl/workbook.xml)")
    text_like = not head.startswith((b"PK\x03\x04", codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if text_like and b"\x00" in head:
        offset = head.index(b"\x00")
        raise IntakeError(f"{_shown(path)}: binary data (a NUL byte at offset {offset}), not a text table")


def _is_xlsx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _detect_encoding(path: Path) -> tuple[str, str]:
    """(encoding, sha256) after decoding the whole file strictly: BOM, else UTF-8, else GB18030."""
    with path.open("rb") as fh:
        head = fh.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            digest, error = _strict_pass(path, encoding)
            if error is not None:
                raise IntakeError(f"{_shown(path)}: starts with a {encoding} byte-order mark but {error}")
            return encoding, digest
    digest, utf8_error = _strict_pass(path, "utf-8")
    if utf8_error is None:
        return "utf-8", digest
    _, gb_error = _strict_pass(path, "gb18030", hashed=False)
    if gb_error is None:
        return "gb18030", digest
    raise IntakeError(
        f"{_shown(path)}: neither UTF-8 ({utf8_error}) nor GB18030 ({gb_error}); save it as UTF-8"
    )


def _strict_pass(path: Path, encoding: str, hashed: bool = True) -> tuple[str, str | None]:
    """Decode the whole file strictly; return its SHA-256 and the first error (with its byte offset)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    error: str | None = None
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if hashed:
                digest.update(chunk)
            if error is None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = exc.object[exc.start]
                    error = f"invalid byte 0x{bad:02x} at offset {offset - pending + exc.start}"
                    if not hashed:
                        break
            offset += len(chunk)
        if error is None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                error = f"the file ends inside a character at offset {offset}"
    return digest.hexdigest(), error


def _decoded_sample(head: bytes, encoding: str) -> str:
    # The sample may end inside a multibyte character: an incremental decoder keeps that tail back.
    return codecs.getincrementaldecoder(encoding)("strict").decode(head, final=False)


def _refuse_markup(path: Path, sample: str) -> None:
    start = sample.lstrip("\ufeff \t\r\n")[:512].lower()
    if start.startswith("<"):
        if "<html" in start or "<!doctype html" in start or "<table" in start:
            what = "an HTML page (some systems save HTML as .xls: open it in Excel and save as .xlsx)"
        elif "<workbook" in sample.lower() or "spreadsheetml" in sample.lower():
            what = "an Excel 2003 XML spreadsheet (save it as .xlsx or CSV)"
        else:
            what = "an XML or HTML document"
        raise IntakeError(f"{_shown(path)}: this is {what}, not a table")


def _sniff_delimiter(path: Path, sample: str) -> str:
    """The delimiter that splits the first records into the same number (> 1) of columns most often."""
    cut = sample.rfind("\n")
    text = sample[: cut + 1] if cut > 0 else sample  # the last record of the sample may be cut short
    best: tuple[float, int, str] | None = None
    for delimiter in _DELIMITERS:
        try:
            records = [
                row for row in itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), 50)
            ]
        except csv.Error:
            continue
        widths = Counter(len(row) for row in records if any(cell.strip() for cell in row))
        if not widths:
            continue
        width, count = widths.most_common(1)[0]
        score = (count / sum(widths.values()), width)
        if width > 1 and (best is None or score > best[:2]):
            best = (*score, delimiter)
    if best is None:
        first = mask_digit_runs(next((line for line in text.splitlines() if line.strip()), "")[:60])
        raise IntakeError(f"{_shown(path)}: not a table — no column delimiter (, tab ; |) in {first!r}")
    return best[2]


def _xlsx_rows(path: Path, recognise: Callable[[Sequence[str]], bool]) -> Iterator[RawRow]:
    import openpyxl  # imported here: most submissions are CSV, and openpyxl takes a while to import

    stream = path.open("rb")  # a file object: openpyxl would refuse a path by its extension
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook; all mean the same here
        stream.close()
        raise IntakeError(
            f"{_shown(path)}: the XLSX workbook cannot be opened ({type(exc).__name__})"
        ) from exc
    number = 0
    try:
        sheet = _choose_sheet(list(workbook.worksheets), recognise)
        if sheet is None:
            raise IntakeError(f"{_shown(path)}: the workbook has no worksheet")
        sheet.reset_dimensions()  # some writers record a wrong size; read what is really there
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_xlsx_cell(value) for value in row]
    except IntakeError:
        raise
    except Exception as exc:  # as at opening: damaged XML, a number int() refuses (over 4,300 digits) …
        raise IntakeError(
            f"{_shown(path)}: the XLSX workbook cannot be read past row {number} ({type(exc).__name__}):"
            " damaged, or a cell holds what Excel cannot (such as a number of over 4,300 digits)"
        ) from exc
    finally:
        workbook.close()
        stream.close()


def _choose_sheet(sheets: list[Any], recognise: Callable[[Sequence[str]], bool]) -> Any:
    for sheet in sheets:
        if len(sheets) == 1:
            break
        for row in sheet.iter_rows(max_row=10, values_only=True):
            if recognise(_texts([_xlsx_cell(value) for value in row])):
                return sheet
    return sheets[0] if sheets else None


def _xlsx_cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float | bool | dt.datetime | dt.date | dt.time):
        return value
    return str(value)  # Decimal, timedelta, error values such as #N/A: their text is what a person sees
