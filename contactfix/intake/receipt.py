"""What a submitter gets back: the receipt, its issues, and the issues CSV written beside the input.

PII rule: an :class:`Issue` never holds an unmasked ID number or phone number. Rows build their
reasons from masked values; text that comes straight from the file (a header, a first line) goes
through :func:`mask_digit_runs` first.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "REJECTED_PREFIX",
    "Issue",
    "Receipt",
    "error_text",
    "issues_csv_path",
    "mask_digit_runs",
    "write_issues_csv",
]

Severity = Literal["warning", "rejected"]
REJECTED_PREFIX = "rejected: "

_DIGIT_RUN = re.compile(r"[0-9０-９][0-9０-９xX*\- ]{4,}[0-9０-９xX]")


def mask_digit_runs(text: str) -> str:
    """``text`` with every run of 6+ digits (an ID or phone number, maybe) masked but its ends."""

    def mask(match: re.Match[str]) -> str:
        run = match.group(0)
        digits = sum(ch.isdigit() for ch in run)
        if digits < 6:
            return run
        return run[:3] + "*" * (len(run) - 5) + run[-2:]

    return _DIGIT_RUN.sub(mask, text)


def error_text(exc: BaseException) -> str:
    """An exception's message as a reason may quote it: a library's text can hold the value it
    refused (Python's own often does), so every digit run in it is masked."""
    return mask_digit_runs(str(exc))


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in one row: a dropped field (``warning``) or a row not taken in (``rejected``).

    ``row`` is the row number a person sees (header = 1; JSON lines: the line); ``field`` is the
    canonical field or, for an unknown column, its header. A rejection's reason starts "rejected: ".
    """

    row: int
    field: str
    reason: str
    severity: Severity = "warning"

    @classmethod
    def rejection(cls, row: int, field: str, reason: str) -> Issue:
        """A rejected row; the reason gets the "rejected: " prefix the receipt's readers look for."""
        return cls(
            row, field, reason if reason.startswith(REJECTED_PREFIX) else REJECTED_PREFIX + reason, "rejected"
        )

    def as_dict(self) -> dict[str, object]:
        """The issue as the receipt's JSON writes it: row, field, reason."""
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class Receipt:
    """The outcome of one submission.

    ``warnings`` holds every issue, rejections included (up to ``warnings_omitted`` left out of a
    very large file to keep memory bounded; the issues table and CSV still hold all of them).
    ``duplicate_of`` names the earlier submission when this exact file had already been taken in.
    """

    submission_id: int
    rows: int
    accepted: int
    rejected: int
    warnings: list[Issue] = field(default_factory=list)
    duplicate_of: int | None = None
    warnings_omitted: int = 0

    def to_json(self) -> str:
        """One line of JSON: submission_id, rows, accepted, rejected, warnings, duplicate_of.

        ``warnings_omitted`` is added only when some issues were left out of the receipt.
        """
        body: dict[str, object] = {
            "submission_id": self.submission_id,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "warnings": [issue.as_dict() for issue in self.warnings],
            "duplicate_of": self.duplicate_of,
        }
        if self.warnings_omitted:
            body["warnings_omitted"] = self.warnings_omitted
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _inert(text: str) -> str:
    # A header from the file could be "=HYPERLINK(…)": Excel must show it, not run it.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def issues_csv_path(input_path: Path) -> Path:
    """Where the issues CSV of ``input_path`` goes: ``<input name>.issues.csv`` beside it."""
    return input_path.with_name(input_path.name + ".issues.csv")


def write_issues_csv(path: Path, issues: Iterable[Issue]) -> int:
    """Write ``row,field,severity,reason`` (UTF-8 with BOM, so Excel shows the Chinese); return the count.

    The file is readable by its owner only (0600), even when it replaces an older one: reasons quote
    values from the batch, masked, but next to row numbers of a file that holds them whole.
    """
    count = 0
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(handle, 0o600)
    with open(handle, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "field", "severity", "reason"])
        for issue in issues:
            writer.writerow([issue.row, _inert(issue.field), issue.severity, _inert(issue.reason)])
            count += 1
    return count
