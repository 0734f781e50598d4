"""``sandbox-repair``: the embedded default repair connector, answering from local records only.

It follows every rule a carrier imposes (authorisation, batch size, de-duplication, binding window,
registered callers, due date) but its answers come from a mapping ``id_sha256 → phones`` given to it,
and every result says so (``sandbox=True`` and a note). Batches are kept in memory: the sandbox serves
one process (``contactfix demo``, tests), not a fleet of workers.

The subscribers it knows come from ``records`` (in code), ``records_path`` (a JSON object
``{id_sha256: [phones]}``) or ``answers_path`` (a CSV ``id_number,phone`` with that header, one row a
number; the ID numbers are hashed as they are read and never kept), so that tests, the demo and
benchmarks can drive carrier repair from a file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from connectors.base import require_e164
from connectors.errors import ConfigurationError, PermanentError
from connectors.masking import mask_phone
from connectors.repair.base import (
    Clock,
    RepairRequest,
    RepairResult,
    RepairStatus,
    VirtualBinding,
    VirtualBindRequest,
    check_binding_time,
    decode_token,
    encode_token,
    end_of_day,
    hash_id_number,
    prepare_batch,
    reference_of,
    system_clock,
)

log = logging.getLogger(__name__)
SANDBOX_NOTE = "sandbox: answered from local records, not by a carrier"


@dataclass(frozen=True)
class _Batch:
    requests: tuple[RepairRequest, ...]
    valid_until: datetime


class SandboxRepairConnector:
    """Repairs from ``records`` (or the JSON object in ``records_path``): ``{id_sha256: [phones]}``,
    and from the CSV ``id_number,phone`` in ``answers_path`` ("" or None: none).

    ``registered_callers`` lists the mediator phones allowed to bind; ``None`` allows any caller.
    Results stay bindable for ``validity_days`` after submission, through the last day's end.
    """

    required_options: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        records: Mapping[str, Sequence[str]] | None = None,
        *,
        records_path: str | os.PathLike[str] | None = None,
        answers_path: str | os.PathLike[str] | None = None,
        registered_callers: Sequence[str] | None = None,
        validity_days: int = 30,
        clock: Clock = system_clock,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self._records = {key.lower(): tuple(phones) for key, phones in (records or {}).items()}
        if records_path is not None:
            self._records.update(_load_records(Path(records_path)))
        if answers_path:
            for key, phones in _load_answers(Path(answers_path)).items():
                self._records[key] = (*self._records.get(key, ()), *phones)
        self._callers = None if registered_callers is None else frozenset(registered_callers)
        self._validity = timedelta(days=int(validity_days))
        self._clock = clock
        self._zone = ZoneInfo(timezone)
        self._batches: dict[str, _Batch] = {}

    def submit(self, requests: Sequence[RepairRequest]) -> str:
        """Keep the checked batch; the same batch submitted again gets the same id."""
        prepared = prepare_batch(requests)
        fingerprint = hashlib.sha256()
        for request in sorted(prepared.requests, key=lambda r: r.id_sha256):
            fingerprint.update(f"{request.id_sha256}:{reference_of(request)}\n".encode())
        batch_id = f"sandbox-{fingerprint.hexdigest()[:24]}"
        if batch_id not in self._batches:
            today = self._clock().astimezone(self._zone).date()
            self._batches[batch_id] = _Batch(
                prepared.requests, end_of_day(today + self._validity, self._zone)
            )
        log.info("sandbox repair: batch %s holds %d debtors", batch_id, len(prepared.requests))
        return batch_id

    def query(self, batch_id: str) -> list[RepairResult]:
        """One result per debtor of the batch (the sandbox settles at once), each marked sandbox."""
        batch = self._batch(batch_id)
        results = []
        for request in batch.requests:
            reference = reference_of(request)
            phones = self._records.get(request.id_sha256, ())
            repaired = bool(phones)
            results.append(
                RepairResult(
                    batch_id=batch_id,
                    reference=reference,
                    status=RepairStatus.REPAIRED if repaired else RepairStatus.NOT_REPAIRED,
                    id_sha256=request.id_sha256,
                    token=encode_token(batch_id, reference, batch.valid_until) if repaired else None,
                    valid_until=batch.valid_until if repaired else None,
                    phones=phones,
                    sandbox=True,
                    note=SANDBOX_NOTE if repaired else f"{SANDBOX_NOTE}; no record for this debtor",
                )
            )
        return results

    def bind_virtual_number(self, request: VirtualBindRequest) -> VirtualBinding:
        """The debtor's recorded number itself (the sandbox has no privacy numbers), within the rules."""
        token = decode_token(request.token)
        batch = self._batch(token.batch_id)
        debtor = next((r for r in batch.requests if reference_of(r) == token.reference), None)
        phones = self._records.get(debtor.id_sha256, ()) if debtor else ()
        if not phones:
            raise PermanentError("sandbox: this token names no repaired debtor of the batch")
        if self._callers is not None and request.caller not in self._callers:
            raise PermanentError(f"caller {mask_phone(request.caller)} is not registered with the provider")
        check_binding_time(self._clock(), token.valid_until, self._zone)
        key = f"{token.batch_id}:{token.reference}:{request.caller}"
        return VirtualBinding(
            binding_id=f"sandbox-bind-{hashlib.sha256(key.encode()).hexdigest()[:20]}",
            caller=request.caller,
            virtual_number=phones[0],
            valid_until=token.valid_until,
            calls_only=True,
            sandbox=True,
            note="sandbox: this is the debtor's recorded number, not a privacy number",
        )

    def _batch(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise PermanentError(f"sandbox: unknown repair batch {batch_id!r}")
        return batch


def _load_records(path: Path) -> dict[str, tuple[str, ...]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"sandbox-repair: cannot read records_path {path.name} ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError("sandbox-repair: records_path must hold a JSON object {id_sha256: [phones]}")
    records = {}
    for key, phones in raw.items():
        values = tuple(phones) if isinstance(phones, list) else (phones,)
        for phone in values:
            require_e164(str(phone), "sandbox record phone")
        records[str(key).lower()] = tuple(str(phone) for phone in values)
    return records


def _load_answers(path: Path) -> dict[str, tuple[str, ...]]:
    """``{id_sha256: phones}`` from a CSV ``id_number,phone``; errors name the line, never a value."""
    answers: dict[str, tuple[str, ...]] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"id_number", "phone"} - set(reader.fieldnames or ())
            if missing:
                raise ConfigurationError(
                    f"sandbox-repair: answers_path {path.name} needs the header id_number,phone "
                    f"(missing: {', '.join(sorted(missing))})"
                )
            for row in reader:
                where = f"sandbox-repair: answers_path {path.name} line {reader.line_num}"
                id_number, phone = (row.get("id_number") or "").strip(), (row.get("phone") or "").strip()
                if not id_number.isascii() or not id_number:
                    raise ConfigurationError(f"{where}: the ID number is empty or not plain digits")
                try:
                    require_e164(phone, "phone")
                except PermanentError as exc:
                    raise ConfigurationError(f"{where}: the phone is not E.164 (+8613812345678)") from exc
                key = hash_id_number(id_number)
                if phone not in answers.get(key, ()):
                    answers[key] = (*answers.get(key, ()), phone)
    except OSError as exc:
        message = f"sandbox-repair: cannot read answers_path {path.name} ({exc.strerror})"
        raise ConfigurationError(message) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigurationError(f"sandbox-repair: answers_path {path.name} is not a UTF-8 CSV") from exc
    return answers
