"""The ``outbox`` connector: the embedded default for SMS and calls, and the audit trail tests read.

Every message and call binding is appended to one file as one JSON line, with its
``idempotency_key``. The file is the channel itself (it stands where the operator's SMSC would), so it
holds the numbers unmasked and is created readable by its owner only.

Several processes may append at once: each line is written with one ``os.write`` on an ``O_APPEND``
descriptor while holding an exclusive ``flock`` (one write of a long line is not atomic past
PIPE_BUF without it), then fsynced. Under the same lock the connector first reads what others
appended since it last looked, so a key already in the file is never written twice, whichever
process wrote it: sending twice is one send.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from connectors.base import Binding, BindRequest, DeliveryStatus, SendResult, SmsMessage
from connectors.errors import RetryableError

log = logging.getLogger(__name__)
PROVIDER = "outbox"


def read_outbox(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every entry of the outbox file in the order written; ``[]`` when the file does not exist.

    Raises ``ValueError`` naming the line when a line is not a JSON object.
    """
    file = Path(path)
    if not file.exists():
        return []
    entries = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError(f"{file}: line {number} is not a JSON object")
            entries.append(entry)
    return entries


class OutboxConnector:
    """Appends messages (``kind: "sms"``) and call bindings (``"bind"``/``"unbind"``) to a JSON-lines file."""

    required_options: ClassVar[tuple[str, ...]] = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: dict[str, dict[str, Any]] = {}
        self._read_upto = 0

    def send(self, message: SmsMessage) -> SendResult:
        """Append ``message`` once per idempotency key; the line is on disk when this returns."""
        entry = {
            "kind": "sms",
            "idempotency_key": message.idempotency_key,
            "provider_message_id": _derived_id("sms", message.idempotency_key),
            "to": message.to,
            "sender": message.sender,
            "text": message.text,
            "metadata": dict(message.metadata),
        }
        written = self._append_once(entry)
        return SendResult((str(written["provider_message_id"]),), DeliveryStatus.DELIVERED, PROVIDER)

    def bind(self, request: BindRequest) -> Binding:
        """Record a direct call path (no privacy number: the caller dials the callee's own number)."""
        entry = {
            "kind": "bind",
            "idempotency_key": request.idempotency_key,
            "binding_id": _derived_id("bind", request.idempotency_key),
            "caller": request.caller,
            "number": request.callee,
            "expires_at": request.expires_at.isoformat() if request.expires_at else None,
            "metadata": dict(request.metadata),
        }
        # Not fsynced on its own: the message that carries the path follows and its fsync covers this
        # line too (fsync flushes the whole file); a binding lost in a crash is made again by its key.
        written = self._append_once(entry, sync=False)
        expires = written["expires_at"]
        return Binding(
            binding_id=str(written["binding_id"]),
            caller=str(written["caller"]),
            number=str(written["number"]),
            virtual=False,
            provider=PROVIDER,
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )

    def unbind(self, binding_id: str) -> None:
        """Record that the call path ``binding_id`` is withdrawn (once, however often called)."""
        self._append_once(
            {"kind": "unbind", "idempotency_key": f"unbind:{binding_id}", "binding_id": binding_id}
        )

    def close(self) -> None:
        """Nothing to release: the file is opened for each append."""

    def _append_once(self, entry: dict[str, Any], *, sync: bool = True) -> Mapping[str, Any]:
        key = str(entry["idempotency_key"])
        try:
            with self._locked_append() as fd:
                self._catch_up()
                if key in self._seen:
                    log.info("outbox: %s %s already written, not repeated", entry["kind"], key)
                    return self._seen[key]
                entry["written_at"] = datetime.now(UTC).isoformat()
                line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
                _write_all(fd, line.encode("utf-8"))
                if sync:
                    os.fsync(fd)
                self._read_upto = os.fstat(fd).st_size
                self._seen[key] = entry
                return entry
        except OSError as exc:
            # A full disk or a vanished directory: the message was not recorded; the core may retry.
            raise RetryableError(f"outbox {self.path.name}: cannot append ({exc.strerror})") from exc

    @contextmanager
    def _locked_append(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _catch_up(self) -> None:
        """Learn the keys other writers appended since we last looked (called under the lock)."""
        size = self.path.stat().st_size
        if size < self._read_upto:  # the file was replaced or truncated: start over
            self._seen.clear()
            self._read_upto = 0
        if size == self._read_upto:
            return
        with self.path.open("rb") as stream:
            stream.seek(self._read_upto)
            chunk = stream.read(size - self._read_upto)
        for raw in chunk.splitlines():
            try:
                entry = json.loads(raw)
                self._seen[str(entry["idempotency_key"])] = entry
            except (ValueError, KeyError, TypeError):
                log.warning("outbox %s: skipping an unreadable line", self.path.name)
        self._read_upto = size


def _derived_id(kind: str, idempotency_key: str) -> str:
    # Deterministic, so a repeated send reports the same id even from another process.
    return f"outbox-{kind}-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
