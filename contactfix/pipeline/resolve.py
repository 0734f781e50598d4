"""Resolve: link source records into identities with :mod:`matchers`, fully or incrementally.

All records — every bank's debtors, court parties, any other source — form one table that is
deduplicated: bank against court, court against court (one person in several cases) and bank against
bank across organisations alike.

*Full*: load everything, fit the model, store every record's blocking keys, every link at or above
the threshold, the model, and regroup all identities. People's decisions from the review queue are
labelled pairs of the fit (they inform ``m`` and λ) and override the model for their pair.

*Incremental*: only records whose version changed (see :mod:`contactfix.pipeline.keys`) are compared:
their keys are replaced, the records sharing a key with them are found in SQL, just those are loaded
and the pairs scored with the stored model; the changed records' links are replaced and only the
groups they touch are regrouped. A night's cost follows the day's changes.

Each step commits on its own and writes keyed rows, so a run that dies is redone by the next one to
the same end; the records' versions are written last, by :mod:`contactfix.pipeline.reconcile`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, insert, select, text

from contactfix.db.identity_models import LinkModel
from contactfix.pipeline.flags import refresh_flags
from contactfix.pipeline.identities import connected_records, regroup
from contactfix.pipeline.keys import (
    find_candidates,
    key_rows,
    linkable_keys,
    replace_keys,
    version_key,
    versions_to_check,
)
from contactfix.pipeline.links import ScoredLinks, delete_links_of, insert_links, replace_all_links
from contactfix.pipeline.records import LoadedRecords, load_records
from contactfix.pipeline.reviews import apply_reviews, decisions
from contactfix.pipeline.runs import RunPlan
from contactfix.settings import Settings
from matchers.arrays import unique_sorted
from matchers.linker import KnownPairs, Linker, LinkSettings
from matchers.normalize import PersonRecords, normalize_records
from matchers.stable_keys import RecordKeys, pairs_sharing_keys
from matchers.stored_model import model_from_params, model_params, score_pairs

__all__ = [
    "Checkpoint",
    "ResolveOutcome",
    "ResolveSettings",
    "known_pairs",
    "resolve_full",
    "resolve_incremental",
]

Checkpoint = Callable[[str], None]
"""Called after each committed step with its name: "keys", "links", "identities"."""


@dataclass(frozen=True)
class ResolveSettings:
    """Settings of resolution (each from the service settings; defaults as in ``default.toml``)."""

    threshold: float = 0.5  # links at or above this match probability are stored
    merge_probability: float = 0.99  # a link joining two multi-record identities must be this strong
    max_block_size: int = 50  # an incremental run skips keys shared by more records than this
    # How far before the last watermark to look for changes: covers PostgreSQL transactions that began
    # before the last run read (their rows carry their start time) but committed after it.
    lookback: dt.timedelta = dt.timedelta(hours=1)

    @classmethod
    def from_service(cls, settings: Settings) -> ResolveSettings:
        """From the service settings (``match_threshold`` and the ``reconcile_*`` keys)."""
        return cls(
            threshold=settings.match_threshold,
            merge_probability=settings.reconcile_merge_probability,
            max_block_size=settings.reconcile_max_block_size,
            lookback=dt.timedelta(minutes=settings.reconcile_lookback_minutes),
        )


@dataclass
class ResolveOutcome:
    """What resolution did, and what the run must record when it completes."""

    counts: dict[str, Any]
    watermark: dt.datetime | None
    version_ids: list[int] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # the fingerprints the records were read with
    regrouped: list[int] | None = None  # records whose identities were regrouped (None: all)


@dataclass
class _Timer:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block, adding its seconds to ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


# Above this many records to check, they are read in one scan by updated_at rather than by id.
_LOAD_BY_ID = 20_000


def _versions(loaded: LoadedRecords) -> list[str]:
    # An intake batch writes its records with one updated_at: each distinct instant is formatted once
    # (a million astimezone + isoformat calls cost a 250,000-debtor run seconds).
    stamps: dict[dt.datetime, str] = {}
    keys = []
    for at, fp in zip(loaded.updated_at, loaded.fingerprints, strict=True):
        stamp = stamps.get(at)
        if stamp is None:
            stamp = stamps[at] = version_key(at, "")
        keys.append(stamp + fp)
    return keys


def _no_checkpoint(step: str) -> None:
    del step


# What an incremental run and its repair read. A table never analysed (a fresh intake, and autovacuum
# off or not there yet) is planned from a guess of a few thousand rows: joins on contacts or
# rankings then scan millions of rows for a few hundred debtors.
_READ_TABLES = (
    "source_records",
    "contacts",
    "debtors",
    "blocking_keys",
    "record_links",
    "identity_members",
    "identities",
    "contact_rankings",
)


def _analyze(connection: Connection) -> None:
    """Refresh PostgreSQL's statistics of every table the repair step and the next run read: a full
    run has rewritten some and follows an intake that grew the others, and autovacuum may not have
    got to them yet (measured at 60,000 debtors: the full repair took 84 s without, 53 s with)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {', '.join(_READ_TABLES)}")


_UNSEEN = text(
    "SELECT relname FROM pg_class WHERE relname = ANY(:names) AND relkind = 'r' "
    "AND pg_table_is_visible(oid) AND reltuples < 0"
)


def _analyze_unseen(engine: Engine) -> list[str]:
    """ANALYZE the tables of :data:`_READ_TABLES` that PostgreSQL has no statistics of yet; their names."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as connection:
        unseen = list(connection.execute(_UNSEEN, {"names": list(_READ_TABLES)}).scalars())
        for name in sorted(unseen):
            connection.exec_driver_sql(f"ANALYZE {name}")
    return sorted(unseen)


def _regroup_identities(
    engine: Engine, run_id: int, group: list[int] | None, settings: ResolveSettings, counts: dict[str, Any]
) -> None:
    """Regroup ``group`` (None: every record) into identities and refresh their flags, in one
    transaction; a full regrouping also refreshes the planner's statistics (see :func:`_analyze`)."""
    with engine.begin() as connection:
        changes = regroup(
            connection,
            run_id,
            group,
            threshold=settings.threshold,
            merge_probability=settings.merge_probability,
        )
        counts["flags_changed"] = refresh_flags(connection, None if group is None else changes.identity_ids)
        if group is None:
            _analyze(connection)
    counts.update(
        new_identities=changes.new, changed_identities=changes.changed, removed_identities=changes.removed
    )
    if group is not None:
        counts["regrouped_records"] = len(group)


def known_pairs(ids: Sequence[int], decided: Mapping[tuple[int, int], bool]) -> KnownPairs | None:
    """People's decisions (the review queue) as the linker's labelled pairs: positions among ``ids``
    (sorted, as a full load reads them); pairs with a record no longer there are left out. None
    without any, so that the fit is exactly the unlabelled one."""
    if not decided:
        return None
    positions = np.asarray(ids, dtype=np.int64)
    pairs = np.asarray(list(decided), dtype=np.int64).reshape(-1, 2)
    same = np.fromiter(decided.values(), dtype=bool, count=len(decided))
    at = np.minimum(np.searchsorted(positions, pairs), max(len(positions) - 1, 0))
    present = (positions[at] == pairs).all(axis=1) if len(positions) else np.zeros(len(pairs), dtype=bool)
    if not present.any():
        return None
    return KnownPairs(at[present, 0], at[present, 1], same[present])


def _model(
    loaded: LoadedRecords,
    settings: ResolveSettings,
    stored: dict[str, Any] | None,
    decided: Mapping[tuple[int, int], bool],
    counts: dict[str, Any],
) -> tuple[Any, Any]:
    """The normalised records and the model to score with: ``stored`` params, or fitted on everything,
    with people's decisions as labelled pairs for the estimates of ``m`` and λ."""
    if stored is not None:
        return normalize_records(loaded.table), stored
    linker = Linker(
        LinkSettings(
            threshold=settings.threshold, merge_probability=settings.merge_probability, chain_pairs=False
        )
    )
    labelled = known_pairs(loaded.ids, decided)
    counts["labelled_pairs"] = 0 if labelled is None else len(labelled)
    result = linker.link_tables(
        loaded.table, None, labels=("source_records", "source_records"), known_pairs=labelled
    )
    return result.records, model_params(result)


def _score_all(
    records: PersonRecords,
    ids: Sequence[int],
    keys: RecordKeys,
    params: dict[str, Any],
    settings: ResolveSettings,
    decided: Mapping[tuple[int, int], bool],
) -> tuple[ScoredLinks, dict[str, int]]:
    """Every pair sharing a key (as an incremental run would find them), scored with ``params``."""
    left, right, skipped = pairs_sharing_keys(keys, settings.max_block_size)
    scored = score_pairs(model_from_params(params), records, left, right)
    names = tuple(c.name for c in scored.comparisons)
    record_ids = np.asarray(ids, dtype=np.int64)
    links = ScoredLinks(
        record_ids[left], record_ids[right], scored.probability, scored.weights, names, scored.prior_weight
    )
    # People's decisions (the review queue) over the model's probability, before the threshold.
    kept = apply_reviews(links, decided).at_least(settings.threshold)
    return kept, {"candidate_pairs": len(left), "skipped_keys": skipped}


def resolve_full(
    engine: Engine,
    run_id: int,
    settings: ResolveSettings,
    checkpoint: Checkpoint = _no_checkpoint,
    stored_model: dict[str, Any] | None = None,
) -> ResolveOutcome:
    """Link every record from scratch, store keys, links, the model and all identities.

    The model is fitted on all records (and stored) unless ``stored_model`` params are given. Links
    come from the pairs sharing a stable key, the same pairs incremental runs compare, so that an
    incremental run ends where a full run with the same model would.
    """
    timer = _Timer()
    with timer.step("load"), engine.connect() as connection:
        loaded = load_records(connection)
        decided = decisions(connection)
    counts: dict[str, Any] = {"records_compared": len(loaded.ids), "refit": stored_model is None}
    links, params, keys = ScoredLinks.empty(), stored_model, RecordKeys.empty()
    if len(loaded.ids) >= 2:
        with timer.step("fit" if stored_model is None else "normalise"):
            records, params = _model(loaded, settings, stored_model, decided, counts)
        with timer.step("score"):
            keys = linkable_keys(records)
            links, found = _score_all(records, loaded.ids, keys, params, settings, decided)
        counts.update(found)
    with timer.step("keys"), engine.begin() as connection:
        replace_keys(connection, key_rows(keys, loaded.ids), None)
    counts["keys"] = len(keys)
    checkpoint("keys")
    with timer.step("links"), engine.begin() as connection:
        replace_all_links(connection, links, run_id)
        if stored_model is None and params is not None:
            connection.execute(insert(LinkModel).values(run_id=run_id, params=params))
    counts["links"] = len(links)
    checkpoint("links")
    with timer.step("identities"):
        _regroup_identities(engine, run_id, None, settings, counts)
    checkpoint("identities")
    counts["seconds"] = timer.seconds
    watermark = max(loaded.updated_at, default=None)
    return ResolveOutcome(counts, watermark, loaded.ids, _versions(loaded), None)


def _score(
    engine: Engine, plan: RunPlan, changed: Sequence[int], settings: ResolveSettings, counts: dict[str, Any]
) -> ScoredLinks:
    """Pairs of the changed records with every record sharing a key, scored with the stored model."""
    with engine.begin() as connection:
        candidates = find_candidates(connection, changed, settings.max_block_size)
        params = connection.execute(
            select(LinkModel.params).where(LinkModel.id == plan.model_id)
        ).scalar_one()
        counts.update(candidate_pairs=len(candidates.a), skipped_keys=candidates.skipped_keys)
        if len(candidates.a) == 0:
            return ScoredLinks.empty()
        decided = decisions(connection)
        loaded = load_records(connection, np.union1d(candidates.a, candidates.b).tolist(), fingerprints=False)
    records = normalize_records(loaded.table)
    ids = np.asarray(loaded.ids, dtype=np.int64)
    left, right = np.searchsorted(ids, candidates.a), np.searchsorted(ids, candidates.b)
    scored = score_pairs(model_from_params(params), records, left, right)
    names = tuple(c.name for c in scored.comparisons)
    links = ScoredLinks(
        candidates.a, candidates.b, scored.probability, scored.weights, names, scored.prior_weight
    )
    return apply_reviews(links, decided).at_least(settings.threshold)


def _fingerprint_of(stored: str | None) -> str | None:
    return None if stored is None else stored.rpartition("|")[2]


def _changed_records(engine: Engine, since: dt.datetime | None) -> tuple[int, LoadedRecords, list[int]]:
    """How many records were updated since ``since``; those of them that may have changed (read);
    and the positions among these of the ones that did: their fingerprint differs from the version
    stored. Only those are compared."""
    with engine.connect() as connection:
        # On PostgreSQL (microsecond timestamps) the same updated_at is the same write, and records not
        # written since their version was stored are left out; SQLite's whole seconds are not exact.
        checked, stored = versions_to_check(connection, since)
        unsure = sorted(stored)
        if len(unsure) > _LOAD_BY_ID:
            loaded = load_records(connection, since=since)  # one scan instead of many IN lists
            wanted = set(unsure)
            loaded = loaded.take([k for k, rid in enumerate(loaded.ids) if rid in wanted])
        else:
            loaded = load_records(connection, unsure)
    changed = [
        k
        for k, (rid, fp) in enumerate(zip(loaded.ids, loaded.fingerprints, strict=True))
        if _fingerprint_of(stored.get(rid, (None, None))[1]) != fp
    ]
    return checked, loaded, changed


def resolve_incremental(
    engine: Engine,
    run_id: int,
    plan: RunPlan,
    settings: ResolveSettings,
    watermark: dt.datetime | None,
    checkpoint: Checkpoint = _no_checkpoint,
) -> ResolveOutcome:
    """Compare only the records changed since the last completed run, with the stored model."""
    timer = _Timer()
    with timer.step("load"):
        analyzed = _analyze_unseen(engine)
        checked, read, positions = _changed_records(engine, plan.since)
    loaded = read.take(positions)
    changed = loaded.ids
    counts: dict[str, Any] = {"records_compared": len(changed), "records_checked": checked}
    if analyzed:
        counts["tables_analyzed"] = len(analyzed)
    if read.ids:
        newest = max(read.updated_at)
        watermark = newest if watermark is None else max(watermark, newest)
    if not changed:
        # Written again without a change (a file taken in twice): only their versions move on.
        counts["seconds"] = timer.seconds
        return ResolveOutcome(counts, watermark, read.ids, _versions(read), [])
    with timer.step("keys"), engine.begin() as connection:
        keys = linkable_keys(normalize_records(loaded.table))
        replace_keys(connection, key_rows(keys, loaded.ids, in_index_order=True), changed)
    counts["keys"] = len(keys)
    checkpoint("keys")
    with timer.step("score"):
        keyed = unique_sorted(np.asarray(loaded.ids, dtype=np.int64)[keys.rows]).tolist()
        links = _score(engine, plan, keyed, settings, counts)
    with timer.step("links"), engine.begin() as connection:
        others = delete_links_of(connection, changed)
        insert_links(connection, links, run_id)
    counts.update(links=len(links), links_replaced=len(others))
    checkpoint("links")
    with timer.step("identities"):
        with engine.connect() as connection:
            seeds = set(changed) | others | set(links.a.tolist()) | set(links.b.tolist())
            group = connected_records(connection, seeds)
        _regroup_identities(engine, run_id, group, settings, counts)
    checkpoint("identities")
    counts["seconds"] = timer.seconds
    return ResolveOutcome(counts, watermark, read.ids, _versions(read), group)
