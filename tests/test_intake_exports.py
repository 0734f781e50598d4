"""The public names of contactfix.intake are exactly these (the demo and the CLI import them)."""

from __future__ import annotations

import contactfix.intake as intake


def test_exported_members() -> None:
    assert set(intake.__all__) == {
        "RECEIPT_ISSUE_LIMIT",
        "DatabaseNotReady",
        "Issue",
        "Receipt",
        "import_court_export",
        "issues_csv_path",
        "iter_issues",
        "submit_bank_batch",
        "write_issues_csv",
    }
    for name in intake.__all__:
        value = getattr(intake, name)
        assert isinstance(value, int) or value.__module__.startswith("contactfix.intake"), name
