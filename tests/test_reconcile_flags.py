"""Bad input handled on purpose: a court record contradicting the bank, a debtor with nothing to link
by — flagged, not silently trusted. And the same person at two banks is one identity."""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from intake_support import write_csv
from reconcile_support import (
    World,
    identity_flags,
    links,
    load_world,
    memberships,
    snapshot,
    world,  # noqa: F401  (the fixture)
)

from contactfix.db.identity_models import BlockingKey
from contactfix.db.models import Debtor, Organization, SourceRecord
from contactfix.intake import import_court_export, submit_bank_batch
from contactfix.pipeline.reconcile import reconcile
from contactfix.sample import header


def _debtors_with_full_ids(world: World, count: int) -> list[dict[str, str]]:  # noqa: F811
    with world.bank.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if len(r["id_number"]) == 18 and len(r["name"]) == 3]
    return rows[:count]


def _record_of(engine: sa.Engine, *, reference: str, org: str | None = None, name: str | None = None) -> int:
    query = sa.select(SourceRecord.id).where(SourceRecord.reference == reference)
    if org is not None:
        query = query.join(Organization, Organization.id == SourceRecord.organization_id).where(
            Organization.name == org
        )
    if name is not None:
        query = query.where(SourceRecord.name == name)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _take_in_bad_input(engine: sa.Engine, folder: Path, debtors: list[dict[str, str]]) -> None:
    """A court export and another bank's batch with the cases these tests are about."""
    contradicted, slipped, twice = debtors
    court = write_csv(
        folder / "court_fix.csv",
        [
            header("court", "en"),
            # Same ID as a debtor, another person's name: one of the two sources is wrong.
            ["X1", "（2025）闽0103民初9001号", "被告", "2025-01-02", "欧阳锋", contradicted["id_number"],
             "", "", "", ""],
            # Same ID, one character of the given name mistyped: a slip, not a contradiction.
            ["X2", "（2025）闽0103民初9002号", "被告", "2025-01-03", slipped["name"][:2] + "某",
             slipped["id_number"], "", "", "", ""],
        ],
    )  # fmt: skip
    other_bank = write_csv(
        folder / "other_bank.csv",
        [
            header("bank", "en"),
            # A name and a masked ID that shows only the county and birth year: nothing to link by.
            ["N1", "甄无迹", "1101011980******12", "", "", "", "", "HT1", "100.00", "信用卡"],
            # The same person as a debtor of the first bank, with a newer phone.
            ["N2", twice["name"], twice["id_number"], twice["birth_date"], twice["gender"], "13912345678",
             "", "HT2", "200.00", "信用卡"],
        ],
    )  # fmt: skip
    import_court_export(engine, court)
    submit_bank_batch(engine, other_bank, "榕城银行")


def test_conflicts_and_unlinkable_debtors_are_flagged(db_url: str, world: World, tmp_path: Path) -> None:  # noqa: F811
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    contradicted, slipped, twice = _debtors_with_full_ids(world, 3)
    _take_in_bad_input(engine, tmp_path, [contradicted, slipped, twice])

    report = reconcile(engine, repair=False)

    assert not report.full and report.counts["records_compared"] == 4
    members, flags = memberships(engine), identity_flags(engine)
    bank_record = _record_of(engine, reference=contradicted["id"], org="闽东银行")
    court_record = _record_of(engine, reference="（2025）闽0103民初9001号")
    assert "id_name_conflict" in flags[members[bank_record]]
    assert "id_name_conflict" in flags[members[court_record]]
    slip_bank = _record_of(engine, reference=slipped["id"], org="闽东银行")
    slip_court = _record_of(engine, reference="（2025）闽0103民初9002号")
    assert members[slip_court] == members[slip_bank]
    assert "id_name_conflict" not in flags[members[slip_bank]]

    unlinkable = _record_of(engine, reference="N1")
    assert flags[members[unlinkable]] == ["no_linkable_field"]
    assert [r for r, i in members.items() if i == members[unlinkable]] == [unlinkable]
    assert not [pair for pair in links(engine) if unlinkable in pair]
    with engine.connect() as connection:
        kinds = connection.execute(
            sa.select(BlockingKey.kind).where(BlockingKey.source_record_id == unlinkable)
        )
        assert list(kinds.scalars()) == ["~version"]
        debtor = connection.execute(
            sa.select(Debtor.id).where(Debtor.source_record_id == unlinkable)
        ).scalar()
    assert debtor is not None  # still a debtor of its bank: kept, flagged, never linked

    # Across banks: the second bank's debtor joins the first bank's debtor.
    first_bank = _record_of(engine, reference=twice["id"], org="闽东银行")
    assert members[_record_of(engine, reference="N2")] == members[first_bank]

    # A full recomputation with the same model comes to the same flags.
    before = snapshot(engine)
    reconcile(engine, full=True, refit=False, repair=False)
    assert snapshot(engine) == before
