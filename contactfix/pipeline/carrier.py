"""Carrier repair (失联修复 through a carrier): ask the repair connector for debtors records could not repair.

:func:`carrier_repair` is one pass, run after record-based repair in the nightly reconciliation and on
its own by ``contactfix carrier run``. In order:

1. settle: query the batches the carrier accepted earlier and store their answers;
2. resume: send again the batches left pending (written, but the carrier did not take them);
3. ask: the debtors still lost with an ID number and an authorisation (:mod:`.carrier_select`) and the
   numbers to renew, in new batches of at most ``batch_size``; each is sent, then queried;
4. bind: a repaired debtor whose answer carries no number gets a virtual number bound to its mediator
   (within the provider's hours; outside them, or without a mediator, a later pass binds it).

Every step commits on its own, so a pass that stops anywhere (a carrier that fails halfway, a killed
process) is resumed by the next: a request the carrier accepted is never sent again (its batch is
queried), one it answered is never asked again within ``retry_days``, and a pending batch is sent
again as the same requests. Only a crash between the carrier accepting a batch and us recording its id
can send a batch twice (carriers give no idempotency key); the sandbox answers such a resend with the
same batch id. A retryable error (the carrier is down, outside its hours) stops the pass and leaves the
rest for the next; after :data:`MAX_SUBMIT_ATTEMPTS` a request fails with the last error, masked.

Every request sent is audited with its authorisation; the audit holds the ID number masked, never raw.
A number obtained repairs the debtor and plans its dispatch in the same transaction
(:mod:`.carrier_numbers`).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from connectors.base import InvalidMessage, require_e164
from connectors.errors import ConnectorError, RetryableError
from connectors.masking import mask_id_number, mask_text
from connectors.repair import (
    MAX_BATCH,
    Authorisation,
    RepairConnector,
    RepairPending,
    RepairRequest,
    RepairStatus,
    VirtualBindRequest,
    hash_id_number,
)
from connectors.repair.base import AuthorisationKind
from contactfix.db.audit import audit_values, find_personal_data, record_audits
from contactfix.db.carrier_models import CarrierRequest, CarrierRequestState
from contactfix.db.dispatch_models import Mediator
from contactfix.db.models import Contact, Debtor
from contactfix.dispatch.mediators import assign_cases
from contactfix.pipeline.carrier_connector import RepairConfig, load_repair_config, open_repair_connector
from contactfix.pipeline.carrier_numbers import NumberAnswer, store_numbers
from contactfix.pipeline.carrier_select import Candidate, in_batches, select_candidates
from contactfix.pipeline.records import among
from contactfix.settings import Settings

__all__ = [
    "DEFAULT_VALIDITY",
    "MAX_SUBMIT_ATTEMPTS",
    "CarrierCounts",
    "CarrierOptions",
    "CarrierStep",
    "carrier_repair",
    "carrier_step",
    "service_carrier_step",
]

log = logging.getLogger(__name__)
S = CarrierRequestState
# A carrier that gives no due date: its answer is taken to hold this long (the sandbox's own default).
DEFAULT_VALIDITY = dt.timedelta(days=30)
# Sends of one pending request before it fails with the last error.
MAX_SUBMIT_ATTEMPTS = 5
ACTOR = "carrier"


@dataclass(frozen=True)
class CarrierOptions:
    """Which connector (its name, as stored on each request), batch size, retry and renewal windows."""

    connector_name: str
    batch_size: int = MAX_BATCH
    retry_days: int = 30
    renew_days: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}, not {self.batch_size}")

    @classmethod
    def from_service(cls, settings: Settings, connector_name: str) -> CarrierOptions:
        """The service settings' carrier options."""
        return cls(
            connector_name,
            settings.carrier_batch_size,
            settings.carrier_retry_days,
            settings.carrier_renew_days,
        )


@dataclass(slots=True)
class CarrierCounts:
    """What one pass did (each key goes in the run's counts as it is named here)."""

    carrier_requested: int = 0  # requests the carrier accepted in this pass (renewals included)
    carrier_renewals_requested: int = 0
    carrier_answered: int = 0  # requests the carrier answered repaired
    carrier_no_match: int = 0
    carrier_pending: int = 0  # accepted, not settled yet: queried again next pass
    carrier_retrying: int = 0  # not accepted (a retryable error): sent again next pass
    carrier_failed: int = 0
    carrier_waiting_bind: int = 0  # repaired, the virtual number not bound yet (hours, no mediator)
    carrier_repaired: int = 0  # debtors moved from lost to repaired
    carrier_renewed: int = 0  # numbers whose expiry a renewal moved
    carrier_unauthorised: int = 0  # lost debtors with an ID but no authorisation: never asked
    carrier_no_full_id: int = 0  # lost debtors whose ID is masked or malformed: cannot be asked
    carrier_dispatches_planned: int = 0
    carrier_dispatches_unassigned: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


def carrier_repair(
    engine: Engine,
    connector: RepairConnector,
    options: CarrierOptions,
    *,
    run_id: int | None = None,
    as_of: dt.datetime | None = None,
) -> CarrierCounts:
    """One pass of carrier repair (see the module's docstring); commits as it goes, safe to rerun.

    ``as_of`` (aware) is the instant the pass acts at (now); ``run_id`` the reconciliation it belongs
    to, written on requests, audit entries and dispatches.
    """
    now = as_of or utcnow()
    counts = CarrierCounts()
    pass_ = _Pass(engine, connector, options, counts, now, run_id)
    for batch_id in pass_.submitted_batches():
        pass_.settle(batch_id)
    if all(pass_.submit(key) for key in pass_.pending_batches()):  # stops at the first refusal
        with Session(engine) as session:
            selection = select_candidates(session, now, options.retry_days, options.renew_days)
        counts.carrier_unauthorised, counts.carrier_no_full_id = selection.unauthorised, selection.no_full_id
        for batch in in_batches(selection.candidates, options.batch_size):
            if not pass_.submit(pass_.write_pending(batch)):
                break
    pass_.bind_waiting()
    return pass_.done()


class _Pass:
    """The steps of one pass, sharing its connector, clock and counts."""

    def __init__(
        self,
        engine: Engine,
        connector: RepairConnector,
        options: CarrierOptions,
        counts: CarrierCounts,
        now: dt.datetime,
        run_id: int | None,
    ) -> None:
        self.engine, self.connector, self.options = engine, connector, options
        self.counts, self.now, self.run_id = counts, now, run_id

    def done(self) -> CarrierCounts:
        log.info("carrier repair: %s", {k: v for k, v in self.counts.as_dict().items() if v})
        return self.counts

    # --- what is left from earlier passes ---------------------------------------------------------

    def submitted_batches(self) -> list[str]:
        query = select(CarrierRequest.batch_id).where(CarrierRequest.state == S.SUBMITTED.value).distinct()
        with self.engine.connect() as connection:
            return sorted(str(b) for b in connection.execute(query).scalars() if b is not None)

    def pending_batches(self) -> list[str]:
        query = (
            select(CarrierRequest.batch_key, func.min(CarrierRequest.id).label("first"))
            .where(CarrierRequest.state == S.PENDING.value)
            .group_by(CarrierRequest.batch_key)
            .order_by("first")
        )
        with self.engine.connect() as connection:
            return [str(key) for key, _ in connection.execute(query)]

    # --- asking -------------------------------------------------------------------------------------

    def write_pending(self, batch: Sequence[Candidate]) -> str:
        """The batch's requests, committed as pending before anything is sent; its key."""
        key = uuid.uuid4().hex
        rows = [
            {
                "debtor_id": c.debtor_id, "connector": self.options.connector_name,
                "authorisation_kind": c.authorisation.kind,
                "authorisation_reference": c.authorisation.reference,
                "case_number": c.authorisation.case_number, "batch_key": key, "state": S.PENDING.value,
                "renewal": c.renewal, "attempts": 0, "run_id": self.run_id, "created_at": self.now,
            }
            for c in batch
        ]  # fmt: skip
        with self.engine.begin() as connection:
            connection.execute(insert(CarrierRequest), rows)
        return key

    def submit(self, key: str) -> bool:
        """Send the pending requests of batch ``key``, then settle it; False when the carrier could not
        take it now (retryable): the pass stops there."""
        rows = self._pending(key)
        if not rows:
            return True
        requests: list[RepairRequest] = []
        sent: list[Any] = []
        unsendable: list[int] = []
        for row in rows:
            request = _request(row)
            if request is None:
                unsendable.append(row.id)
            else:
                requests.append(request)
                sent.append(row)
        batch_id: str | None = None
        error: ConnectorError | None = None
        if requests:
            try:
                batch_id = self.connector.submit(requests)
            except ConnectorError as exc:
                error = exc
        retry = isinstance(error, RetryableError)
        with Session(self.engine) as session, session.begin():
            if unsendable:
                self._fail(session, unsendable, "the debtor's name or ID number cannot be sent to a carrier")
            self._record_submission(session, sent, key, batch_id, error)
        if batch_id is not None:
            self.settle(batch_id)
        return not retry

    def _pending(self, key: str) -> list[Any]:
        bank_phone = (
            select(func.min(Contact.value))
            .where(Contact.source_record_id == Debtor.source_record_id, Contact.channel == "phone")
            .scalar_subquery()
        )
        query = (
            select(
                CarrierRequest.id, CarrierRequest.debtor_id, CarrierRequest.authorisation_kind,
                CarrierRequest.authorisation_reference, CarrierRequest.case_number, CarrierRequest.renewal,
                CarrierRequest.attempts, Debtor.name, Debtor.id_number, bank_phone.label("old_phone"),
            )
            .join(Debtor, Debtor.id == CarrierRequest.debtor_id)
            .where(CarrierRequest.batch_key == key, CarrierRequest.state == S.PENDING.value)
            .order_by(CarrierRequest.id)
        )  # fmt: skip
        with self.engine.connect() as connection:
            return list(connection.execute(query).all())

    def _record_submission(
        self, session: Session, rows: list[Any], key: str, batch_id: str | None, error: ConnectorError | None
    ) -> None:
        if not rows:
            return
        ids = [row.id for row in rows]
        message = _masked(error) if error is not None else None
        if batch_id is not None:
            outcome = "submitted"
            self._move(session, ids, S.SUBMITTED, batch_id=batch_id, submitted_at=self.now, last_error=None)
            self.counts.carrier_requested += len(rows)
            self.counts.carrier_renewals_requested += sum(1 for row in rows if row.renewal)
        elif isinstance(error, RetryableError):
            spent = [row.id for row in rows if row.attempts + 1 >= MAX_SUBMIT_ATTEMPTS]
            outcome = "retrying"
            self._move(session, [i for i in ids if i not in spent], S.PENDING, last_error=message)
            gave_up = f"gave up after {MAX_SUBMIT_ATTEMPTS} sends: {message}"
            self._move(session, spent, S.FAILED, last_error=gave_up[:500])
            self.counts.carrier_retrying += len(ids) - len(spent)
            self.counts.carrier_failed += len(spent)
        else:
            outcome = "refused"
            self._move(session, ids, S.FAILED, last_error=message)
            self.counts.carrier_failed += len(ids)
        record_audits(
            session,
            (
                audit_values(
                    ACTOR,
                    "carrier.requested",
                    "debtor",
                    row.debtor_id,
                    connector=self.options.connector_name,
                    request_id=row.id,
                    batch_key=_safe(key),
                    batch_id=_safe(batch_id),
                    outcome=outcome,
                    attempt=row.attempts + 1,
                    renewal=bool(row.renewal),
                    id_number=mask_id_number(str(row.id_number)),
                    run_id=self.run_id,
                    error=_safe(message),
                    authorisation={
                        "kind": row.authorisation_kind,
                        "reference": _safe(row.authorisation_reference),
                        "case_number": _safe(row.case_number),
                    },
                )
                for row in rows
            ),
        )
        if error is not None:
            log.warning("carrier repair: batch %s of %d not taken: %s", key[:8], len(rows), message)

    def _move(self, session: Session, ids: Sequence[int], state: S, **values: Any) -> None:
        """After a send: the requests ``ids`` move to ``state``, one more attempt counted."""
        if ids:
            session.execute(
                update(CarrierRequest)
                .where(among(session.connection(), CarrierRequest.id, list(ids)))
                .values(state=state.value, attempts=CarrierRequest.attempts + 1, **values)
            )

    def _fail(self, session: Session, ids: Sequence[int], why: str) -> None:
        session.execute(
            update(CarrierRequest)
            .where(among(session.connection(), CarrierRequest.id, list(ids)))
            .values(state=S.FAILED.value, last_error=why[:500])
        )
        self.counts.carrier_failed += len(ids)

    # --- answers ------------------------------------------------------------------------------------

    def settle(self, batch_id: str) -> None:
        """Query batch ``batch_id`` and store its answers in one transaction; pending stays submitted."""
        waiting = (CarrierRequest.batch_id == batch_id, CarrierRequest.state == S.SUBMITTED.value)
        try:
            results = self.connector.query(batch_id)
        except ConnectorError as exc:
            with Session(self.engine) as session, session.begin():
                ids = list(session.execute(select(CarrierRequest.id).where(*waiting)).scalars())
                if isinstance(exc, RetryableError):  # RepairPending among them: the carrier is working
                    note = None if isinstance(exc, RepairPending) else _masked(exc)
                    session.execute(update(CarrierRequest).where(*waiting).values(last_error=note))
                    self.counts.carrier_pending += len(ids)
                else:
                    self._fail(session, ids, f"the carrier lost the batch: {_masked(exc)}")
            return
        by_reference = {result.reference.strip(): result for result in results}
        with Session(self.engine) as session, session.begin():
            columns = (CarrierRequest.id, CarrierRequest.debtor_id, CarrierRequest.authorisation_reference,
                       CarrierRequest.renewal)  # fmt: skip
            answers: list[NumberAnswer] = []
            # Rows by their new values, so that a batch of 1,000 is a few UPDATEs, not 1,000.
            moves: dict[tuple[str, dt.datetime | None], list[int]] = {}
            to_bind: list[dict[str, Any]] = []
            for row in session.execute(select(*columns).where(*waiting)):
                result = by_reference.get(row.authorisation_reference.strip())
                if result is None or result.status != RepairStatus.REPAIRED:
                    moves.setdefault((S.NO_MATCH.value, None), []).append(row.id)
                    continue
                if result.phones:
                    moves.setdefault((S.ANSWERED.value, result.valid_until), []).append(row.id)
                    expires = result.valid_until or self.now + DEFAULT_VALIDITY
                    number = result.phones[0]
                    answers.append(NumberAnswer(row.id, row.debtor_id, number, expires, row.renewal))
                else:  # a virtual number is bound to the mediator next, with this token
                    to_bind.append({"id": row.id, "token": result.token, "valid_until": result.valid_until})
            for (state, valid_until), ids in moves.items():
                session.execute(
                    update(CarrierRequest)
                    .where(among(session.connection(), CarrierRequest.id, ids))
                    .values(state=state, valid_until=valid_until, answered_at=self.now)
                    .execution_options(synchronize_session=False)
                )
            if to_bind:
                rows = [{**item, "state": S.ANSWERED.value, "answered_at": self.now} for item in to_bind]
                session.execute(update(CarrierRequest), rows)  # by primary key, one executemany
            self.counts.carrier_no_match += len(moves.get((S.NO_MATCH.value, None), []))
            self.counts.carrier_answered += len(answers) + len(to_bind)
            self._store(session, answers)

    def bind_waiting(self) -> None:
        """Bind a virtual number for each repaired debtor whose answer carried none, for its mediator."""
        with Session(self.engine) as session, session.begin():
            rows = list(
                session.execute(
                    select(CarrierRequest).where(
                        CarrierRequest.state == S.ANSWERED.value, CarrierRequest.token.is_not(None)
                    )
                ).scalars()
            )
            if not rows:
                return
            mediators = assign_cases(session, [row.debtor_id for row in rows])
            phones = dict(session.execute(select(Mediator.id, Mediator.phone)).all())
            answers = [
                answer
                for row in rows
                if (answer := self._bind(row, phones.get(mediators.get(row.debtor_id, -1))))
            ]
            session.flush()
            self._store(session, answers)

    def _bind(self, row: CarrierRequest, caller: str | None) -> NumberAnswer | None:
        if caller is None:
            row.last_error = "no active mediator to bind the virtual number to"
            self.counts.carrier_waiting_bind += 1
            return None
        try:
            binding = self.connector.bind_virtual_number(VirtualBindRequest(caller, str(row.token)))
        except RetryableError as exc:  # outside the provider's hours, among others
            row.last_error = _masked(exc)
            self.counts.carrier_waiting_bind += 1
            return None
        except ConnectorError as exc:
            row.state, row.token, row.last_error = S.FAILED.value, None, _masked(exc)
            self.counts.carrier_failed += 1
            return None
        row.token = None
        expires = binding.valid_until or row.valid_until or self.now + DEFAULT_VALIDITY
        return NumberAnswer(row.id, row.debtor_id, binding.virtual_number, expires, row.renewal)

    def _store(self, session: Session, answers: list[NumberAnswer]) -> None:
        if not answers:
            return
        stored = store_numbers(session, answers, self.now, self.run_id)
        if stored.unusable:
            why = "the carrier's number is not E.164 or already past its due date"
            self._fail(session, stored.unusable, why)
        self.counts.carrier_repaired += stored.repaired
        self.counts.carrier_renewed += stored.renewed
        if stored.dispatches is not None:
            self.counts.carrier_dispatches_planned += stored.dispatches.planned
            self.counts.carrier_dispatches_unassigned += stored.dispatches.unassigned


def _request(row: Any) -> RepairRequest | None:
    """The request as the carrier sees it (name, SHA-256 of the ID, the lost phone), or None."""
    old_phone = row.old_phone
    try:
        if old_phone is not None:
            require_e164(old_phone, "old phone")
    except InvalidMessage:
        old_phone = None
    try:
        authorisation = Authorisation(
            cast(AuthorisationKind, row.authorisation_kind), row.authorisation_reference, row.case_number
        )
        return RepairRequest(str(row.name), hash_id_number(str(row.id_number)), old_phone, authorisation)
    except (InvalidMessage, UnicodeEncodeError):
        return None


def _safe(reference: str | None) -> str | None:
    """A reference (an authorisation, a carrier's batch id) for the audit: as it is, unless it looks
    like an ID or a phone (a hex batch id can hold a run of eleven digits that does)."""
    if reference is None or find_personal_data(reference) is None:
        return reference
    return mask_text(reference)


def _masked(error: Exception) -> str:
    return mask_text(f"{type(error).__name__}: {error}")[:500]


CarrierStep = Callable[[Engine, int | None], dict[str, int]]


def carrier_step(config: RepairConfig, options: CarrierOptions) -> CarrierStep:
    """A pass of carrier repair as a reconciliation step: a fresh connector each run, counts by name."""

    def step(engine: Engine, run_id: int | None) -> dict[str, int]:
        """Run one pass for reconciliation ``run_id``; its counts."""
        return carrier_repair(engine, open_repair_connector(config), options, run_id=run_id).as_dict()

    return step


def service_carrier_step(settings: Settings, environ: Mapping[str, str] | None = None) -> CarrierStep | None:
    """The step the service runs after record-based repair, or None when ``carrier_repair_enabled`` is
    off. Reads connectors.toml now, so a mistake in it stops start-up (SettingsError), not the night."""
    if not settings.carrier_repair_enabled:
        return None
    config = load_repair_config(settings, environ=environ)
    open_repair_connector(config)  # fails now, naming the option, rather than at 02:00
    return carrier_step(config, CarrierOptions.from_service(settings, config.connector))
