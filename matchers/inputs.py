"""Input tables for the linker: building them, and refusing or warning about ones that cannot work.

A table is an ``id`` column plus any of the canonical person columns, all as strings. Every problem is
reported by the table's name (LEFT, RIGHT, or a file name) and the column, never with an ID number or
phone in the message (PIPL): record ids are the caller's keys and may be quoted, values never.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matchers.columns import CodedColumn, factorize
from matchers.errors import InputError
from matchers.normalize import CANONICAL_COLUMNS, RawTable

__all__ = ["check_table", "table_from_arrow", "table_from_columns", "table_from_frame"]

_NAME_COLUMNS = ("name", "given_name", "family_name")


def _as_strings(values: Iterable[Any]) -> list[str | None]:
    """Strings, ``None`` for blanks and NaN (pandas) — the form the normaliser takes."""
    out: list[str | None] = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            out.append(None)
            continue
        text = value if isinstance(value, str) else str(value)
        out.append(text if text.strip() else None)
    return out


def _coded(values: Iterable[Any]) -> CodedColumn:
    return factorize(_as_strings(values))


def _ids(values: Iterable[Any]) -> NDArray[np.object_]:
    array = np.empty(0, dtype=object)
    listed = _as_strings(values)
    array = np.empty(len(listed), dtype=object)
    array[:] = listed
    return array


def _canonical_names(header: Sequence[str], label: str) -> dict[str, str]:
    """Canonical column name → the header's spelling of it; InputError without an ``id`` column."""
    by_canonical: dict[str, str] = {}
    for name in header:
        by_canonical.setdefault(name.strip().lower().lstrip("\ufeff"), name)
    if "id" not in by_canonical:
        # without a header row the first record is taken for one: its phone or ID must not show
        shown = ", ".join(repr(_shown_id(str(h)[:40])) for h in list(header)[:12]) or "none"
        raise InputError(f"{label}: no 'id' column (columns found: {shown})")
    return by_canonical


def table_from_columns(header: Sequence[str], columns: Mapping[str, Sequence[Any]], label: str) -> RawTable:
    """A :class:`RawTable` from named columns (e.g. read from CSV); raises InputError without ``id``.

    Column names are matched after stripping spaces and lower-casing; unknown columns are ignored.
    """
    by_canonical = _canonical_names(header, label)
    ids = _ids(columns[by_canonical["id"]])
    person = {name: _coded(columns[by_canonical[name]]) for name in CANONICAL_COLUMNS if name in by_canonical}
    return RawTable(ids=ids, columns=person)


def table_from_frame(frame: Any, label: str) -> RawTable:
    """A :class:`RawTable` from a pandas DataFrame with an ``id`` column (or a named index)."""
    header = [str(c) for c in frame.columns]
    if "id" not in {h.strip().lower() for h in header} and getattr(frame.index, "name", None) == "id":
        frame = frame.reset_index()
        header = [str(c) for c in frame.columns]
    columns = {str(c): frame[c].tolist() for c in frame.columns}
    return table_from_columns(header, columns, label)


def table_from_arrow(table: Any, label: str) -> RawTable:
    """A :class:`RawTable` from a pyarrow Table of strings (e.g. ``pyarrow.csv.read_csv``).

    Each column is dictionary-encoded by Arrow, so only its distinct values become Python strings:
    the way to take in a million rows quickly and in little memory.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    header = [str(name) for name in table.column_names]
    by_canonical = _canonical_names(header, label)
    ids = _ids(table.column(by_canonical["id"]).to_pylist())
    person = {}
    for name in CANONICAL_COLUMNS:
        if name not in by_canonical:
            continue
        column = table.column(by_canonical[name]).cast(pa.string())
        encoded = pc.dictionary_encode(column).combine_chunks()
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        # The dictionary holds each distinct value once already: only blanks need turning into missing.
        distinct = _as_strings(encoded.dictionary.to_pylist())
        blank = np.array([value is None for value in distinct] + [True], dtype=bool)
        kept = np.cumsum(~blank) - 1
        lookup = np.where(blank, -1, kept).astype(np.int32)
        values = np.empty(int((~blank).sum()), dtype=object)
        values[:] = [value for value in distinct if value is not None]
        person[name] = CodedColumn(lookup[np.where(indices >= 0, indices, len(lookup) - 1)], values)
    return RawTable(ids=ids, columns=person)


def _shown_id(value: str) -> str:
    """A record id as quoted in a message; masked when it could be an ID number or a phone (PIPL)."""
    if sum(ch.isdigit() for ch in value) < 7:
        return value
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def check_table(table: RawTable, label: str) -> list[str]:
    """Raise InputError for a table the linker cannot use; return warnings for what it will ignore.

    Errors: no rows; blank or duplicate ids; no canonical person column with any value. Warnings: a
    canonical column blank in every row.
    """
    if len(table) == 0:
        raise InputError(f"{label}: the table has no rows")
    blank_ids = int(sum(1 for v in table.ids if v is None))
    if blank_ids:
        raise InputError(f"{label}: {blank_ids} row(s) have a blank 'id'")
    stripped = [str(v).strip() for v in table.ids]
    seen: set[str] = set()
    duplicates = [v for v in stripped if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if duplicates:
        examples = ", ".join(repr(_shown_id(v)) for v in sorted(set(duplicates))[:3])
        raise InputError(f"{label}: column 'id' has {len(duplicates)} duplicate value(s), e.g. {examples}")
    warnings = []
    filled = []
    for name, column in table.columns.items():
        if not column.present.any():
            warnings.append(f"{label}: column '{name}' is blank in every row; it is ignored")
        else:
            filled.append(name)
    if not filled:
        wanted = ", ".join(CANONICAL_COLUMNS)
        raise InputError(f"{label}: no person column with values; expected any of: {wanted}")
    if not any(name in filled for name in _NAME_COLUMNS):
        warnings.append(
            f"{label}: no name column (name, given_name, family_name); matching on the others only"
        )
    return warnings
