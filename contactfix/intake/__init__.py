"""Intake: take in bank batches and court exports — read, validate, normalise, store.

``submit_bank_batch`` and ``import_court_export`` are the entry points; both return a
:class:`Receipt` and raise :class:`~contactfix.errors.IntakeError` for a file that cannot be taken in
at all. ``tests/test_intake_exports.py`` keeps this list exact.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contactfix.intake.receipt import Issue, Receipt, issues_csv_path, write_issues_csv
    from contactfix.intake.service import (
        RECEIPT_ISSUE_LIMIT,
        DatabaseNotReady,
        import_court_export,
        iter_issues,
        submit_bank_batch,
    )

__all__ = [
    "RECEIPT_ISSUE_LIMIT",
    "DatabaseNotReady",
    "Issue",
    "Receipt",
    "import_court_export",
    "issues_csv_path",
    "iter_issues",
    "submit_bank_batch",
    "write_issues_csv",
]

# Imported on first use: `contactfix link` reads files with the reader alone, and the service
# brings the database layer and the identifier tables (2 s of start-up) it does not need.
_HOME = {
    "Issue": "receipt",
    "Receipt": "receipt",
    "issues_csv_path": "receipt",
    "write_issues_csv": "receipt",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOME.get(name, 'service')}")
    return getattr(module, name)
