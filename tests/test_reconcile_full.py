"""A full reconciliation on a sample world: identities match the truth, and running again changes nothing."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from reconcile_support import (
    World,
    load_world,
    pairwise_f1,
    partition,
    record_count,
    runs,
    snapshot,
    truth,
    world,  # noqa: F401  (the fixture)
)

from contactfix.db import Base
from contactfix.db.identity_models import BlockingKey, LinkModel, RecordLink
from contactfix.pipeline.reconcile import reconcile


def test_full_run_finds_the_true_identities(db_url: str, world: World) -> None:  # noqa: F811
    engine = load_world(db_url, world, court="all")
    report = reconcile(engine, repair=False)
    assert report.full and report.reason == "no completed run yet"
    groups = partition(engine)
    precision, recall, f1 = pairwise_f1(groups, truth(engine, world))
    assert f1 >= 0.95, (precision, recall)
    # Every record is in exactly one identity, and no identity is empty.
    assert sum(len(g) for g in groups) == record_count(engine) == len(set().union(*groups))
    assert snapshot(engine).identities == len(groups)
    assert report.counts["new_identities"] == len(groups)
    assert report.counts["links"] > 0 and report.counts["keys"] > 0
    assert runs(engine) == [(report.run_id, "completed", True)]


def test_links_explain_their_probability(db_url: str, world: World) -> None:  # noqa: F811
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(RecordLink.probability, RecordLink.weights).limit(50)).all()
        params = connection.execute(sa.select(LinkModel.params)).scalar_one()
        version_rows = connection.execute(
            sa.select(sa.func.count()).select_from(BlockingKey).where(BlockingKey.kind == "~version")
        ).scalar_one()
    assert version_rows == record_count(engine)
    comparisons = {c["name"] for c in params["comparisons"]}
    for probability, weights in stored:
        assert set(weights) == comparisons | {"prior"}
        assert probability >= 0.5
        assert 1 / (1 + 2 ** -sum(weights.values())) == pytest.approx(probability, abs=2e-3)
        assert all(math.isfinite(w) for w in weights.values())


def test_a_second_run_with_no_changes_changes_nothing(db_url: str, world: World) -> None:  # noqa: F811
    engine = load_world(db_url, world)
    reconcile(engine, repair=False)
    before = snapshot(engine)
    second = reconcile(engine, repair=False)
    assert not second.full
    assert second.counts["records_compared"] == 0
    assert snapshot(engine) == before
    # A full run over the same records recomputes everything and lands on the same identities and ids.
    again = reconcile(engine, full=True, repair=False)
    assert again.full and again.counts["records_compared"] == record_count(engine)
    assert (again.counts["new_identities"], again.counts["changed_identities"]) == (0, 0)
    assert snapshot(engine).memberships == before.memberships


def _constraints(engine: sa.Engine, table: str) -> tuple[object, ...]:
    inspector = sa.inspect(engine)
    return (
        inspector.get_pk_constraint(table),
        sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
        sorted(str(ix) for ix in inspector.get_indexes(table)),
        sorted(str(uq) for uq in inspector.get_unique_constraints(table)),
    )


def test_a_full_run_leaves_the_schema_as_migrated(db_url: str, world: World) -> None:  # noqa: F811
    # A full run rebuilds the indexes and keys of the tables it rewrites: they must come back the same.
    engine = load_world(db_url, world)
    before = {t: _constraints(engine, t) for t in ("blocking_keys", "record_links")}
    reconcile(engine, repair=False)
    engine.dispose()
    assert {t: _constraints(engine, t) for t in ("blocking_keys", "record_links")} == before
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
