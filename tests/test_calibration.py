"""Calibration: a penalised fit toward the prior, kept only when it beats the prior on held-out debtors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
from collections.abc import Iterator

import pytest
from repair_support import AS_OF, World
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from contactfix.cli import app, load_commands
from contactfix.db.engine import make_engine, session_factory
from contactfix.db.migrate import upgrade_database
from contactfix.db.outcome_models import ConfidenceModel
from contactfix.pipeline.calibration import (
    CalibrationError,
    LabelledContact,
    active_weights,
    brier,
    calibrate,
    fit_weights,
    maybe_calibrate,
    reliability,
)
from contactfix.pipeline.confidence import PHONE_PRIOR, Features, SourceTrust, confidence
from contactfix.pipeline.outcomes import record_outcome
from contactfix.pipeline.repair import repair_contacts
from contactfix.settings import get_settings

load_commands(["calibrate"])


def _features(years: float, sources: int = 1, superseded: int = 0) -> Features:
    return Features(
        years_since_seen=years, newest=superseded == 0, superseded=superseded, sources=sources,
        own_bank=False, own_bank_only=False, mobile=True, valid=True, trust=SourceTrust.COURT_FILING,
        membership=1.0, reached=0, no_answer=0, wrong_number=False, objected=False, shared=0,
    )  # fmt: skip


def _world_truth(rng: random.Random, count: int, slope: float) -> list[LabelledContact]:
    """Contacts whose chance of being right falls with age by ``slope`` logits a year."""
    labelled = []
    for index in range(count):
        years = rng.uniform(0, 6)
        p = 1 / (1 + math.exp(-(2.0 + slope * years)))
        labelled.append(LabelledContact(index, _features(years), float(rng.random() < p), 1.0))
    return labelled


def test_few_outcomes_stay_near_the_prior_many_follow_the_data() -> None:
    rng = random.Random(3)
    few = fit_weights(_world_truth(rng, 20, slope=-1.0))
    many = fit_weights(_world_truth(rng, 5000, slope=-1.0))
    prior = PHONE_PRIOR.years_since_seen
    assert abs(few.years_since_seen - prior) < abs(many.years_since_seen - prior)
    assert many.years_since_seen < -0.7  # the data's steeper decline is learned
    # Features the data never vary stay at the prior.
    assert many.carrier == pytest.approx(PHONE_PRIOR.carrier, abs=1e-6)


def test_brier_and_reliability_measure_what_they_say() -> None:
    labelled = [LabelledContact(i, _features(1.0), float(i % 2), 1.0) for i in range(10)]
    assert brier(labelled, [0.5] * 10) == pytest.approx(0.25)
    assert brier(labelled, [float(i % 2) for i in range(10)]) == 0.0
    table = reliability(labelled, [0.55] * 10)
    assert table == [{"low": 0.5, "high": 0.6, "contacts": 10, "predicted": 0.55, "observed": 0.5}]


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _reported_world(session: Session, debtors: int, seed: int) -> None:
    """Debtors with one court number each; a number filed long ago is usually wrong, as mediators
    report (a world steeper than the prior believes)."""
    rng = random.Random(seed)
    world = World(session)
    run = world.run()
    for index in range(debtors):
        phone = f"+86159{index:08d}"
        debtor = world.debtor(f"CF{index:05d}", "张伟", f"+86138{index:08d}")
        filed = AS_OF - dt.timedelta(days=rng.randint(30, 6 * 365))
        case = world.record("court", "张伟", reference=f"C{index}", observed_on=filed, phones=[phone])
        world.identity(run, (world.bank_records[debtor.id], 1.0), (case, 0.99))
    repair_contacts(session, run, as_of=AS_OF)
    called = dt.datetime(2026, 6, 30, 10, tzinfo=dt.UTC)
    for index, debtor_id in enumerate(range(1, debtors + 1)):
        years = (called.date() - _filed_of(session, debtor_id)).days / 365.25
        right = rng.random() < 1 / (1 + math.exp(-(3.0 - 1.2 * years)))
        result = "reached" if right else "wrong_number"
        record_outcome(session, debtor_id=debtor_id, contact=f"+86159{index:08d}", result=result,
                       reporter="m", reported_at=called)  # fmt: skip


def _filed_of(session: Session, debtor_id: int) -> dt.date:
    from contactfix.db.identity_models import IdentityMember
    from contactfix.db.models import Debtor, SourceRecord

    own = select(Debtor.source_record_id).where(Debtor.id == debtor_id).scalar_subquery()
    identity = (
        select(IdentityMember.identity_id).where(IdentityMember.source_record_id == own).scalar_subquery()
    )
    members = select(IdentityMember.source_record_id).where(IdentityMember.identity_id == identity)
    days = session.scalars(
        select(SourceRecord.observed_on).where(SourceRecord.id.in_(members), SourceRecord.source == "court")
    )
    return next(iter(days))


def test_calibrate_learns_from_outcomes_and_beats_the_prior_on_held_out_debtors(session: Session) -> None:
    _reported_world(session, 400, seed=5)
    with pytest.raises(CalibrationError, match="needs at least 1000"):
        calibrate(session, min_outcomes=1000)
    result = calibrate(session, min_outcomes=100)
    assert result.fitted_on + result.held_out == 400 and result.held_out == 80
    assert result.brier_fitted is not None and result.brier_prior is not None
    assert result.brier_fitted < result.brier_prior and result.active
    assert result.weights.years_since_seen < PHONE_PRIOR.years_since_seen
    assert sum(row["contacts"] for row in result.reliability) == result.held_out
    stored = active_weights(session)
    assert stored is not None and stored["phone"] == result.weights
    # Ranking uses it from now on: an old number's confidence follows the fitted decline.
    old = _features(5.0)
    assert confidence("phone", old, stored) < confidence("phone", old)
    # The nightly refit waits for enough new outcomes.
    assert maybe_calibrate(session, min_outcomes=100) is None


def test_a_fit_that_predicts_worse_is_kept_but_not_used(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reported_world(session, 200, seed=6)
    before = calibrate(session, min_outcomes=50)
    assert before.active
    # A fit gone wrong (here: forced to call every number wrong) loses to the prior on held-out debtors.
    from contactfix.pipeline import calibration

    monkeypatch.setattr(
        calibration, "fit_weights", lambda _: dataclasses.replace(PHONE_PRIOR, intercept=-6.0)
    )
    worse = calibrate(session, min_outcomes=50)
    assert worse.brier_fitted is not None and worse.brier_prior is not None
    assert worse.brier_fitted > worse.brier_prior and not worse.active
    kept = session.scalars(select(ConfidenceModel.active).order_by(ConfidenceModel.id)).all()
    assert kept == [True, False]
    assert active_weights(session) == {"phone": before.weights}  # ranking keeps the better model


def test_calibrate_command_reports_and_refuses_too_few(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        _reported_world(session, 150, seed=7)
        session.commit()
    engine.dispose()
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(app, ["calibrate"])  # the default minimum is 200
        assert refused.exit_code == 2 and "150 labelled contacts" in refused.output
        dry = CliRunner().invoke(app, ["calibrate", "--min-outcomes", "50", "--dry-run", "--json"])
        assert dry.exit_code == 0, dry.output
        summary = json.loads(dry.stdout)
        assert summary["fitted_on"] == 120 and summary["model_id"] is None
        shown = CliRunner().invoke(app, ["calibrate", "--min-outcomes", "50"])
        assert shown.exit_code == 0 and "Brier" in shown.output and "reliability" in shown.output
    finally:
        get_settings.cache_clear()
