"""Tables that fit the terminal without cutting what people copy from them.

Rich shrinks a table that is too wide by narrowing its widest wrapping columns, then, as a last resort,
every column: case numbers fold in the middle and phones end in "…". :func:`fit_columns` decides the
widths instead: a column that must not wrap keeps its width, and a wrapping column gives up width only
down to its longest word, so a case number (（2025）京0105民初123456号), a reference or a masked ID,
none of which has a space, is never split. Columns named ``foldable`` (Chinese names and addresses,
which have no spaces and may break between any two characters) fold down to their ``min_width`` (a
masked ID under a name sets it), else to a few characters.
"""

from __future__ import annotations

from collections.abc import Collection

from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["compact_table", "fit_columns", "print_table"]

_FOLD_MIN = 8


def compact_table(title: str) -> Table:
    """A table without side borders (every cell of width goes to the content), its title on the left."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def print_table(console: Console, table: Table, foldable: Collection[int] = ()) -> None:
    """Print ``table`` fitted to ``console`` (:func:`fit_columns`)."""
    fit_columns(console, table, foldable)
    console.print(table)


def fit_columns(console: Console, table: Table, foldable: Collection[int] = ()) -> int:
    """Fix the width of every column of ``table`` so that it fits ``console``'s width where it can;
    return the table's width.

    Wrapping columns give up width, the one with the most to spare first, each down to its longest
    word (``foldable`` column indexes: down to their ``min_width`` or a few characters); columns with
    ``no_wrap`` keep their width. When even that is too wide (a terminal much narrower than 80
    columns), Rich narrows every column: give them ``overflow="fold"`` so that they fold, not cut.
    """
    options = console.options
    padding = [table._get_padding_width(column._index) for column in table.columns]
    measured = [table._measure_column(console, options, column) for column in table.columns]
    widths = [m.maximum for m in measured]
    floors = []
    for index, (column, m, pad) in enumerate(zip(table.columns, measured, padding, strict=True)):
        if column.no_wrap:
            floors.append(m.maximum)
        elif index in foldable:
            floors.append(min(m.maximum, (column.min_width or _FOLD_MIN) + pad))
        else:
            floors.append(m.minimum)
    excess = sum(widths) + table._extra_width - console.width
    while excess > 0:
        spare = [width - floor for width, floor in zip(widths, floors, strict=True)]
        most = max(range(len(widths)), key=spare.__getitem__, default=None)
        if most is None or spare[most] <= 0:
            break
        # Narrow the column with most to spare down to the next one's spare (at least one cell).
        runner_up = max((s for i, s in enumerate(spare) if i != most), default=0)
        step = min(excess, max(spare[most] - runner_up, 1))
        widths[most] -= step
        excess -= step
    for column, width, pad in zip(table.columns, widths, padding, strict=True):
        column.width = max(width - pad, 1)
    return sum(widths) + table._extra_width
