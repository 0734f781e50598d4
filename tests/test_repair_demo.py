"""The demo continues through resolve and repair: what it prints is what the database holds, masked."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from rich.console import Console

from contactfix.cli.commands_demo import print_result
from contactfix.demo import make_folder, run_demo
from contactfix.privacy import keyring_for
from contactfix.privacy.sealing import FieldCipher


def test_demo_reports_repaired_debtors_with_provenance(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    result = run_demo(400, seed=4, folder=folder)
    summary = result.reconcile
    assert summary is not None
    cipher = FieldCipher(keyring_for(folder.database_url))
    with sqlite3.connect(folder.path / "contactfix.sqlite3") as db:
        by_status = dict(db.execute("SELECT status, count(*) FROM debtors GROUP BY status").fetchall())
        ranked = db.execute("SELECT count(DISTINCT debtor_id) FROM contact_rankings").fetchone()[0]
        ranked_phones: dict[str, set[str]] = {}
        for reference, value in db.execute(
            "SELECT d.reference, r.value FROM contact_rankings r JOIN debtors d ON d.id = r.debtor_id "
            "WHERE r.channel = 'phone'"
        ):
            value = cipher.open(value)  # encrypted at rest under the demo's own key
            ranked_phones.setdefault(reference, set()).add(f"+86 {value[3:6]}****{value[-4:]}")
    assert summary.debtors == sum(by_status.values())
    # Mediators then reported on every delivered contact: each repaired debtor is reached, lost again
    # (its only candidate was wrong) or repaired still (its next candidate dispatched).
    assert result.funnel is not None and result.outcomes is not None
    assert summary.repaired == result.funnel["repaired_records"] == sum(result.outcomes.reported.values())
    assert by_status.get("reached", 0) == result.outcomes.reported.get("reached", 0)
    assert summary.repaired > 0 and summary.counts["ranked_debtors"] == summary.debtors
    assert ranked <= summary.debtors and summary.counts["newly_repaired"] == summary.repaired
    assert 1 <= len(summary.examples) <= 3
    for example in summary.examples:
        assert example.phone in ranked_phones[example.reference] and example.confidence >= 0.1
        assert example.phone != example.lost_phone  # the number the bank lost never repairs
        assert example.sources.startswith("court ")

    console = Console(record=True, width=200)
    print_result(console, result)
    text = console.export_text()
    assert f"修复 repaired: {summary.debtors:,} 名债务人中 {summary.repaired:,} 名" in text
    assert all(example.reference in text and example.phone in text for example in summary.examples)
    assert not re.search(r"\d{11}|\d{6}19\d\d", text.replace(",", "")), "an unmasked phone or ID was printed"
