"""Incremental reconciliation: only what changed is compared, and it ends where a full run would."""

from __future__ import annotations

import sqlalchemy as sa
from reconcile_support import (
    World,
    load_world,
    memberships,
    pairwise_f1,
    partition,
    record_count,
    snapshot,
    truth,
    world,  # noqa: F401  (the fixture)
)

from contactfix.db.identity_models import BlockingKey
from contactfix.db.models import Contact, SourceRecord
from contactfix.intake import import_court_export
from contactfix.pipeline.keys import VERSION_KIND, find_candidates
from contactfix.pipeline.reconcile import reconcile


def test_a_new_court_file_is_compared_alone_and_ends_where_a_full_run_would(
    db_url: str,
    world: World,  # noqa: F811
) -> None:
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    before = record_count(engine)
    receipt = import_court_export(engine, world.court_new)
    added = record_count(engine) - before
    assert added == receipt.accepted > 50

    report = reconcile(engine, repair=False)

    assert not report.full
    assert report.counts["records_compared"] == added
    assert report.counts["new_identities"] > 0 and report.counts["changed_identities"] > 0
    after_incremental = snapshot(engine)
    # The same model applied to everything from scratch finds exactly the same links and identities,
    # and keeps every identity id.
    rescore = reconcile(engine, full=True, refit=False, repair=False)
    assert rescore.counts["refit"] is False
    assert snapshot(engine) == after_incremental
    # Refitting the model on all records moves at most a borderline record or two.
    refit = reconcile(engine, full=True, repair=False)
    assert refit.counts["refit"] is True
    moved = {r for r, i in memberships(engine).items() if after_incremental.memberships[r] != i}
    assert len(moved) <= max(3, record_count(engine) // 200), sorted(moved)
    assert pairwise_f1(partition(engine), truth(engine, world))[2] >= 0.95


def _linked_court_record(engine: sa.Engine) -> int:
    """A court record in an identity with a bank record (a debtor found in court)."""
    query = sa.text(
        """
        SELECT m.source_record_id FROM identity_members m
        JOIN source_records s ON s.id = m.source_record_id
        WHERE s.source = 'court' AND m.identity_id IN (
          SELECT m2.identity_id FROM identity_members m2
          JOIN source_records s2 ON s2.id = m2.source_record_id WHERE s2.source = 'bank')
        ORDER BY m.source_record_id LIMIT 1
        """
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_a_changed_record_is_compared_again_and_leaves_its_identity(db_url: str, world: World) -> None:  # noqa: F811
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    record = _linked_court_record(engine)
    old_identity = memberships(engine)[record]
    # A court corrects a party: another person, no ID, no contact left in common.
    with engine.begin() as connection:
        connection.execute(
            sa.update(SourceRecord)
            .where(SourceRecord.id == record)
            .values(
                name="欧阳震华", name_original="欧阳震华", id_type=None, id_number=None, id_prefix=None,
                id_suffix=None, county_code=None, birth_date=None, address="海南省三亚市吉阳区迎宾路1号",
                updated_at=sa.func.now(),
            )
        )  # fmt: skip
        connection.execute(sa.delete(Contact).where(Contact.source_record_id == record))

    report = reconcile(engine, repair=False)

    assert report.counts["records_compared"] == 1
    assert report.counts["links_replaced"] >= 1
    after = memberships(engine)
    assert after[record] != old_identity
    assert [r for r, i in after.items() if i == after[record]] == [record]
    assert old_identity in after.values()  # the rest of the identity keeps its id
    rescore = reconcile(engine, full=True, refit=False, repair=False)
    assert (rescore.counts["new_identities"], rescore.counts["changed_identities"]) == (0, 0)
    assert memberships(engine) == after


def test_records_touched_without_a_change_are_checked_not_compared(db_url: str, world: World) -> None:  # noqa: F811
    # A batch submitted again with the same values touches every row's updated_at and changes nothing.
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    before = snapshot(engine)
    with engine.begin() as connection:
        touched = connection.execute(
            sa.update(SourceRecord).where(SourceRecord.source == "bank").values(updated_at=sa.func.now())
        ).rowcount
    report = reconcile(engine, repair=False)
    assert report.counts["records_checked"] >= touched > 0
    assert report.counts["records_compared"] == 0
    assert snapshot(engine) == before


def _candidates_by_hand(engine: sa.Engine, probed: list[int], cap: int) -> tuple[set[tuple[int, int]], int]:
    """The pairs :func:`find_candidates` must give, from the stored keys read whole."""
    members: dict[tuple[str, str], set[int]] = {}
    with engine.connect() as connection:
        for record_id, kind, key in connection.execute(
            sa.select(BlockingKey.source_record_id, BlockingKey.kind, BlockingKey.key)
        ):
            if kind != VERSION_KIND:
                members.setdefault((kind, key), set()).add(record_id)
    pairs: set[tuple[int, int]] = set()
    skipped = 0
    for owners in members.values():
        mine = owners.intersection(probed)
        if not mine:
            continue
        if len(owners) > cap:
            skipped += 1
            continue
        pairs |= {(min(a, b), max(a, b)) for a in mine for b in owners if a != b}
    return pairs, skipped


def test_candidates_are_every_pair_sharing_a_key_that_few_enough_share(db_url: str, world: World) -> None:  # noqa: F811
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    with engine.connect() as connection:
        ids = sorted(connection.execute(sa.select(SourceRecord.id)).scalars())
    probed = ids[::7]
    for cap in (2, 3, 50):
        expected, skipped = _candidates_by_hand(engine, probed, cap)
        with engine.begin() as connection:
            found = find_candidates(connection, probed, cap)
        assert set(zip(found.a.tolist(), found.b.tolist(), strict=True)) == expected
        assert found.skipped_keys == skipped
        assert expected and (skipped > 0) == (cap < 50)
