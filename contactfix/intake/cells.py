"""What a row of a submitted file is made of: its cells, and the row that could not be read."""

from __future__ import annotations

import datetime as dt

__all__ = ["Cell", "RawRow", "UnreadableRow"]

Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | None
RawRow = tuple[int, list[Cell]]
"""(row number as a person sees it, cell values). Header = row 1 in a spreadsheet or CSV."""


class UnreadableRow(list[Cell]):
    """A row the reader could not read: no cells, and ``reason`` (which never quotes the row's text).

    It is never blank, so it is counted as a row; the normaliser rejects it with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
