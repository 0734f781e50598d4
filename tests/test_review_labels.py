"""The review queue's decisions feed the model: the next full run fits m and λ with them as labelled
pairs, so pairs like the ones people corrected move the way people said; without decisions the fit
is bit for bit the unlabelled one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reconcile_support import links, load_world, truth, write_world
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from contactfix.db.identity_models import LinkModel
from contactfix.db.review_models import LinkReview
from contactfix.pipeline.reconcile import reconcile
from contactfix.pipeline.resolve import known_pairs
from contactfix.pipeline.reviews import REVIEW_BAND, decide


def _model(engine: Engine) -> dict[str, object]:
    with Session(engine) as session:
        params = session.scalars(select(LinkModel.params).order_by(LinkModel.id.desc()).limit(1)).one()
    return dict(params)


def test_decisions_move_the_next_fit_the_way_people_said(sqlite_url: str, tmp_path: Path) -> None:
    world = write_world(tmp_path / "sample", 120, 11)
    engine = load_world(sqlite_url, world, court="all")
    first = reconcile(engine, repair=False)
    assert first.counts["labelled_pairs"] == 0
    unlabelled = _model(engine)
    people = truth(engine, world)
    before = links(engine)
    doubted = sorted((p, pair) for pair, p in before.items() if REVIEW_BAND[0] <= p < REVIEW_BAND[1])
    wrong = [pair for _, pair in doubted if people[pair[0]] != people[pair[1]]][:2]
    right = [pair for _, pair in doubted if people[pair[0]] == people[pair[1]]][:2]
    assert len(wrong) == 2 and len(right) == 2, "the sample should hold doubted links of both kinds"
    with Session(engine) as session:
        for pair in wrong:
            decide(session, *pair, same=False, reviewer="ops")
        for pair in right:
            decide(session, *pair, same=True, reviewer="ops")
        session.commit()

    second = reconcile(engine, full=True, repair=False)
    assert second.counts["labelled_pairs"] == 4
    labelled = _model(engine)
    assert labelled["m"] != unlabelled["m"] and labelled["prior"] != unlabelled["prior"]
    after = links(engine)
    # The decided pairs stand as decided; the undecided pairs the model scored exactly as a decided
    # one (the same comparison levels) move the way the decision went.
    assert all(after[pair] == 1.0 for pair in right) and not any(pair in after for pair in wrong)
    moved = 0
    for decided, direction in [(pair, -1) for pair in wrong] + [(pair, +1) for pair in right]:
        twins = [pair for pair, p in before.items() if p == before[decided] and pair not in (*wrong, *right)]
        for twin in twins:
            new = after.get(twin, 0.0)
            assert (new - before[twin]) * direction > 0, (decided, twin, before[twin], new)
            moved += 1
    assert moved >= 2

    # Without decisions, the fit is again exactly the unlabelled one.
    with Session(engine) as session:
        session.execute(delete(LinkReview))
        session.commit()
    third = reconcile(engine, full=True, repair=False)
    assert third.counts["labelled_pairs"] == 0
    assert _model(engine) == unlabelled


def test_known_pairs_are_positions_of_records_still_there() -> None:
    ids = [3, 5, 8, 13, 21]
    found = known_pairs(ids, {(5, 13): True, (3, 21): False, (8, 99): True, (1, 3): False})
    assert found is not None
    assert found.left.tolist() == [1, 0] and found.right.tolist() == [3, 4]
    assert found.match.tolist() == [True, False]
    assert known_pairs(ids, {}) is None and known_pairs(ids, {(1, 2): True}) is None
    assert known_pairs([], {(1, 2): True}) is None


@pytest.mark.parametrize("decisions", [0, 3])
def test_keep_model_runs_ignore_labels(sqlite_url: str, tmp_path: Path, decisions: int) -> None:
    """A full run that keeps the stored model does not refit, labels or not."""
    world = write_world(tmp_path / "sample", 60, 5)
    engine = load_world(sqlite_url, world, court="all")
    reconcile(engine, repair=False)
    model = _model(engine)
    with Session(engine) as session:
        for pair in list(links(engine))[:decisions]:
            decide(session, *pair, same=bool(np.int64(pair[0]) % 2), reviewer="ops")
        session.commit()
    run = reconcile(engine, full=True, refit=False, repair=False)
    assert "labelled_pairs" not in run.counts and _model(engine) == model
