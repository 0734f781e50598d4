"""Take in a bank batch or a court export: read, validate, normalise, store — and say what happened.

Everything that can refuse a whole file (format, encoding, header) is checked before the database is
touched. Then a submission row is written (status ``processing``), the rows stream through in
batches of ``batch_size``, each batch committed with its issues and the running counts, and the
submission is marked ``completed`` with one audit entry. An error at row 90,000 therefore loses
nothing of the batches before it, and re-submitting the same file redoes the unfinished submission;
the upserts make that idempotent. A file already taken in completely is a no-op whose receipt
names the earlier submission in ``duplicate_of``.

An empty file (no bytes, or only blank lines) is an :class:`IntakeError`; a file with a header and no
data rows is taken in as a completed submission of 0 rows (so re-sending it is a duplicate too).
Rows are validated in worker processes while this process writes when the file is large enough
(``workers``); the outcome is the same either way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contactfix.db.audit import record_audit
from contactfix.db.models import Organization, Submission, SubmissionIssue
from contactfix.errors import ContactfixError, IntakeError
from contactfix.intake.batches import BatchProgress, stream_batches
from contactfix.intake.headers import HeaderMap, map_headers, recognises_header
from contactfix.intake.reader import FileFacts, Table, inspect_file, open_table
from contactfix.intake.receipt import Issue, Receipt, mask_digit_runs
from contactfix.intake.rows import RowNormaliser
from contactfix.intake.store import RecordWriter
from contactfix.privacy.hash_secrets import PURPOSE_COURT_RECORD, hash_secret
from contactfix.privacy.rotation import writing_sealed

__all__ = [
    "RECEIPT_ISSUE_LIMIT",
    "DatabaseNotReady",
    "import_court_export",
    "iter_issues",
    "submit_bank_batch",
]

Kind = Literal["bank", "court"]
RECEIPT_ISSUE_LIMIT = 10_000
"""Issues kept in a receipt; beyond it they are counted in ``warnings_omitted`` (memory stays bounded)."""


class DatabaseNotReady(ContactfixError, RuntimeError):
    """The database has no contactfix schema yet; ``contactfix db upgrade`` creates it."""


_ORGANIZATION_NAME_LENGTH: int = getattr(Organization.__table__.c.name.type, "length", None) or 200
_SUBMISSION_KIND = {"bank": "bank_batch", "court": "court_export"}
_ORGANIZATION_KIND = {"bank": "bank", "court": "court"}
_DEFAULT_MAX_FILE_BYTES = 2_000_000_000
# Below this size validating in process is faster than starting a worker (about 8,000 rows).
_PARALLEL_FROM_BYTES = 1 << 20
# One core stays with this process (reading, writing) and the database; at most 4 workers, beyond
# which the single database connection, not validation, sets the pace.
_DEFAULT_WORKERS = max(1, min(4, (os.cpu_count() or 2) - 1))
# Intake's advisory locks on PostgreSQL are (this namespace, submission id).
_LOCK_NAMESPACE = 0x696E7461  # "inta"


def submit_bank_batch(
    engine: Engine,
    path: Path | str,
    org: str,
    *,
    batch_size: int = 5000,
    max_field_length: int = 500,
    max_file_bytes: int = _DEFAULT_MAX_FILE_BYTES,
    progress: bool = False,
    timezone: str = "Asia/Shanghai",
    workers: int | None = None,
) -> Receipt:
    """Take in a bank's batch of lost debtors for organization ``org`` (created as a bank if new).

    Each accepted row upserts the debtor (key: org + reference), its bank source record and contacts.
    Raises :class:`IntakeError` for a file that cannot be taken in at all; row problems are in the
    receipt. ``timezone`` dates the submission (a bank row's contacts are seen on that day).
    ``workers``: processes validating rows while this one writes (None: chosen by the file's size).
    """
    options = _Options(batch_size, max_field_length, max_file_bytes, progress, timezone, workers)
    return _take_in(engine, Path(path), org, "bank", options)


def import_court_export(
    engine: Engine,
    path: Path | str,
    org: str = "court-export",
    *,
    batch_size: int = 5000,
    max_field_length: int = 500,
    max_file_bytes: int = _DEFAULT_MAX_FILE_BYTES,
    progress: bool = False,
    timezone: str = "Asia/Shanghai",
    workers: int | None = None,
) -> Receipt:
    """Take in a court records export; each accepted row upserts one court source record and contacts.

    Re-importing the same party of the same case updates its record (the key is derived from case
    number, name, ID and role). Otherwise as :func:`submit_bank_batch`.
    """
    options = _Options(batch_size, max_field_length, max_file_bytes, progress, timezone, workers)
    return _take_in(engine, Path(path), org, "court", options)


def iter_issues(engine: Engine, submission_id: int) -> Iterator[Issue]:
    """Every issue of a submission, in row order, streamed from the database (for the issues CSV)."""
    query = (
        select(SubmissionIssue.row, SubmissionIssue.field, SubmissionIssue.reason, SubmissionIssue.severity)
        .where(SubmissionIssue.submission_id == submission_id)
        .order_by(SubmissionIssue.row, SubmissionIssue.id)
    )
    with engine.connect() as connection:
        for row, field, reason, severity in connection.execution_options(yield_per=2000).execute(query):
            yield Issue(row, field, reason, "rejected" if severity == "rejected" else "warning")


@dataclass(frozen=True)
class _Options:
    batch_size: int
    max_field_length: int
    max_file_bytes: int
    progress: bool
    timezone: str
    workers: int | None

    def worker_count(self, file_bytes: int) -> int:
        """Validation workers: none for a small file (starting one costs more than it saves)."""
        if self.workers is not None:
            return max(self.workers, 0)
        return 0 if file_bytes < _PARALLEL_FROM_BYTES else _DEFAULT_WORKERS


@dataclass(frozen=True)
class _Claim:
    """The submission this run writes, or the completed one that makes this run a duplicate."""

    id: int
    created_at: dt.datetime
    duplicate: bool


def _take_in(engine: Engine, path: Path, org: str, kind: Kind, options: _Options) -> Receipt:
    if not org.strip() or len(org.strip()) > _ORGANIZATION_NAME_LENGTH:
        raise IntakeError(f"the organization name must be 1 to {_ORGANIZATION_NAME_LENGTH} characters")
    facts = inspect_file(path, options.max_file_bytes)
    table, header_map, file_issues = _open_mapped(facts, kind)
    with engine.connect() as connection:
        if not inspect(connection).has_table("submissions"):
            raise DatabaseNotReady("the database has no contactfix tables: run `contactfix db upgrade` first")
        organization_id = _organization(connection, org.strip(), kind)
        claim = _claim_submission(connection, organization_id, kind, facts)
        if claim.duplicate:
            return _earlier_receipt(connection, claim.id)
        try:
            with writing_sealed(connection):  # no data key rotation meanwhile (PostgreSQL)
                observed_on = claim.created_at.astimezone(ZoneInfo(options.timezone)).date()
                secret = hash_secret(connection, PURPOSE_COURT_RECORD) if kind == "court" else None
                normaliser = RowNormaliser(
                    kind, header_map, organization_id, observed_on, options.max_field_length,
                    record_key_secret=secret,
                )  # fmt: skip
                writer = RecordWriter(
                    connection, source=kind, organization_id=organization_id, submission_id=claim.id
                )
                receipt = stream_batches(
                    connection, table, normaliser, writer, claim.id, file_issues,
                    batch_size=options.batch_size,
                    progress=BatchProgress(options.progress, None if facts.format == "xlsx" else facts.size),
                    issue_limit=RECEIPT_ISSUE_LIMIT,
                    debtors=kind == "bank",
                    workers=options.worker_count(facts.size),
                )  # fmt: skip
                _complete(connection, receipt, organization_id, kind)
        except BaseException:
            with contextlib.suppress(Exception):  # the connection may be what failed: keep the cause
                connection.rollback()
                _set_status(connection, claim.id, "failed")
            raise
        finally:
            with contextlib.suppress(Exception):
                _unlock(connection, claim.id)
        return receipt


def _open_mapped(facts: FileFacts, kind: Kind) -> tuple[Table, HeaderMap, list[Issue]]:
    """The table and its header map, or IntakeError when the header cannot serve ``kind``."""
    table = open_table(facts, lambda cells: recognises_header(cells, kind))
    if facts.format == "jsonl":
        # Keys appear with the objects: the header check runs on the keys of the first 100 lines.
        leading = list(itertools.islice(table, 100))
        if leading:
            map_headers(table.headers, kind)
        table = table.with_rows(itertools.chain(leading, iter(table)))
        return table, map_headers([], kind, streaming=True), []
    header_map = map_headers(table.headers, kind)
    issues = [
        Issue(table.header_row, mask_digit_runs(h), "unknown column, ignored") for h in header_map.unknown
    ]
    if kind == "court" and "case_number" not in header_map.columns:
        issues.append(Issue(table.header_row, "case_number", "no case number column: records keyed by name"))
    return table, header_map, issues


def _organization(connection: Connection, name: str, kind: Kind) -> int:
    """The id of organization ``name``, created (as a bank or a court) when new."""
    query = select(Organization.id).where(Organization.name == name)
    found = connection.execute(query).scalar()
    if found is None:
        try:
            connection.execute(insert(Organization).values(name=name, kind=_ORGANIZATION_KIND[kind]))
            connection.commit()
        except IntegrityError:  # created by a concurrent submission meanwhile
            connection.rollback()
        found = connection.execute(query).scalar_one()
    connection.commit()
    return int(found)


def _claim_submission(connection: Connection, organization_id: int, kind: Kind, facts: FileFacts) -> _Claim:
    """The submission of these bytes: new, the completed earlier one (a duplicate), or an unfinished
    earlier one taken over. Unless a duplicate, it is locked for this run (PostgreSQL).
    """
    key = (
        Submission.organization_id == organization_id,
        Submission.kind == _SUBMISSION_KIND[kind],
        Submission.content_sha256 == facts.sha256,
    )
    query = select(Submission.id, Submission.status, Submission.created_at).where(*key)
    for _attempt in range(2):
        existing = connection.execute(query).first()
        if existing is not None:
            ident, status, created_at = existing
            connection.commit()
            if status == "completed":
                return _Claim(ident, created_at, duplicate=True)
            _take_over(connection, ident, facts)
            return _Claim(ident, created_at, duplicate=False)
        values = {"organization_id": organization_id, "kind": _SUBMISSION_KIND[kind], "status": "processing",
                  "filename": facts.path.name[:500], "content_sha256": facts.sha256}  # fmt: skip
        try:
            created = connection.execute(
                insert(Submission).values(**values).returning(Submission.id, Submission.created_at)
            ).one()
            connection.commit()
        except IntegrityError:  # the same file submitted concurrently: look again
            connection.rollback()
            continue
        _lock(connection, created.id)
        return _Claim(created.id, created.created_at, duplicate=False)
    raise IntakeError("the same file is being submitted concurrently; try again later")


def _take_over(connection: Connection, submission_id: int, facts: FileFacts) -> None:
    """Reset an unfinished submission for a redo: its issues and counts go, its date stays, so that
    the redo ends in the state one uninterrupted run would have left."""
    _lock(connection, submission_id)
    try:
        connection.execute(delete(SubmissionIssue).where(SubmissionIssue.submission_id == submission_id))
        reset = {"status": "processing", "rows": 0, "accepted": 0, "rejected": 0, "warnings": 0,
                 "completed_at": None, "filename": facts.path.name[:500]}  # fmt: skip
        connection.execute(update(Submission).where(Submission.id == submission_id).values(**reset))
        connection.commit()
    except BaseException:
        connection.rollback()
        _unlock(connection, submission_id)
        raise


def _lock(connection: Connection, submission_id: int) -> None:
    """On PostgreSQL, hold a lock on the submission until :func:`_unlock`; IntakeError when another
    process holds it (it is still writing this submission)."""
    if connection.dialect.name != "postgresql":
        return  # SQLite serialises writers itself; a crashed run holds nothing
    got = connection.execute(
        text("SELECT pg_try_advisory_lock(:namespace, :id)"),
        {"namespace": _LOCK_NAMESPACE, "id": submission_id},
    )
    if not got.scalar_one():
        connection.rollback()
        raise IntakeError(f"submission {submission_id} of this file is being processed right now")


def _unlock(connection: Connection, submission_id: int) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_unlock(:namespace, :id)"),
            {"namespace": _LOCK_NAMESPACE, "id": submission_id},
        )
        connection.commit()


def _set_status(connection: Connection, submission_id: int, status: str) -> None:
    connection.execute(update(Submission).where(Submission.id == submission_id).values(status=status))
    connection.commit()


def _complete(connection: Connection, receipt: Receipt, organization_id: int, kind: Kind) -> None:
    """Mark the submission completed and write its one audit entry (counts only: no PII)."""
    connection.execute(
        update(Submission)
        .where(Submission.id == receipt.submission_id)
        .values(status="completed", completed_at=dt.datetime.now(dt.UTC))
    )
    with Session(bind=connection) as session:
        record_audit(
            session,
            "intake",
            "submission.completed",
            "submission",
            receipt.submission_id,
            organization_id=organization_id,
            kind=_SUBMISSION_KIND[kind],
            rows=receipt.rows,
            accepted=receipt.accepted,
            rejected=receipt.rejected,
            warnings=sum(1 for i in receipt.warnings if i.severity == "warning"),
        )
        session.flush()
    connection.commit()


def _earlier_receipt(connection: Connection, submission_id: int) -> Receipt:
    """The receipt of a completed submission, read back: a duplicate's answer."""
    counts = connection.execute(
        select(Submission.rows, Submission.accepted, Submission.rejected).where(
            Submission.id == submission_id
        )
    ).one()
    query = (
        select(SubmissionIssue.row, SubmissionIssue.field, SubmissionIssue.reason, SubmissionIssue.severity)
        .where(SubmissionIssue.submission_id == submission_id)
        .order_by(SubmissionIssue.row, SubmissionIssue.id)
    )
    issues = [
        Issue(row, field, reason, "rejected" if severity == "rejected" else "warning")
        for row, field, reason, severity in connection.execute(query.limit(RECEIPT_ISSUE_LIMIT))
    ]
    total = connection.execute(
        select(func.count())
        .select_from(SubmissionIssue)
        .where(SubmissionIssue.submission_id == submission_id)
    ).scalar_one()
    connection.commit()
    return Receipt(
        submission_id,
        counts.rows,
        counts.accepted,
        counts.rejected,
        issues,
        duplicate_of=submission_id,
        warnings_omitted=total - len(issues),
    )
