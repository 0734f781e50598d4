"""Dispatch as the service runs it: one sender per worker process, built from the settings.

The Celery tasks and ``contactfix demo`` call :func:`sender_for`; it opens the connectors, the policy
profile and (with a Redis broker) the shared rate limiter once per process and reuses them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connectors.base import DeliveryReceipt
from contactfix.db.engine import make_engine, normalise_url
from contactfix.dispatch.channels import Channels, load_channels_config
from contactfix.dispatch.ratelimit import RateLimiter
from contactfix.dispatch.receipts import Receipt, apply_receipts
from contactfix.dispatch.sender import DispatchSender, SenderSettings
from contactfix.policy import load_profile
from contactfix.settings import Settings

__all__ = [
    "close_senders",
    "dispatch_engine",
    "receipt_recorder",
    "sender_for",
    "sender_settings",
]

_senders: dict[int, tuple[Settings, DispatchSender]] = {}
_lock = threading.Lock()


def sender_settings(settings: Settings) -> SenderSettings:
    """The sender's part of the service settings."""
    return SenderSettings(
        lease_s=settings.dispatch_lease_s,
        max_attempts=settings.dispatch_max_attempts,
        backoff_base_s=settings.dispatch_backoff_base_s,
        backoff_cap_s=settings.dispatch_backoff_cap_s,
        binding_hours=settings.dispatch_binding_hours,
        public_base_url=settings.public_base_url,
    )


def dispatch_engine(database_url: str) -> Engine:
    """An engine for dispatch's own writes: on PostgreSQL they commit without waiting for the WAL flush.

    Only a crash of the database server itself can lose such a commit, and what it loses is safe to
    lose: a claim or an outcome of the last moments, so the dispatch is sent again, and connectors
    deduplicate by its idempotency key. Waiting for the flush would cost each send a disk sync per
    state change, and is most of a send's time on a busy server.
    """
    if normalise_url(database_url).get_backend_name() == "postgresql":
        return make_engine(database_url, connect_args={"options": "-c synchronous_commit=off"})
    return make_engine(database_url)


def receipt_recorder(engine: Engine) -> Callable[[DeliveryReceipt], None]:
    """What an SMPP connector calls with each delivery receipt: it moves the dispatch forward."""

    def record(receipt: DeliveryReceipt) -> None:
        with Session(engine) as session, session.begin():
            apply_receipts(session, [Receipt(receipt.status, receipt.at, receipt.provider_message_id)])

    return record


def _build(settings: Settings) -> DispatchSender:
    engine = dispatch_engine(settings.database_url)
    channels = Channels.open(load_channels_config(settings), on_receipt=receipt_recorder(engine))
    policy_path = Path(settings.policy_file) if settings.policy_file else None
    profile = load_profile(settings.policy_profile, policy_path)
    limiter = None
    if settings.broker_url and settings.broker_url.startswith(("redis://", "rediss://")):
        limiter = RateLimiter.from_url(settings.broker_url)
    return DispatchSender(engine, channels, profile, sender_settings(settings), limiter=limiter)


def sender_for(settings: Settings) -> DispatchSender:
    """This process's sender for ``settings`` (built on first use)."""
    with _lock:
        cached = _senders.get(id(settings))
        if cached is None or cached[0] is not settings:
            cached = (settings, _build(settings))
            _senders[id(settings)] = cached
        return cached[1]


def close_senders() -> None:
    """Close every sender's connectors and database pool (tests, and a worker shutting down)."""
    with _lock:
        for _, sender in _senders.values():
            sender.channels.close()
            sender.engine.dispose()
        _senders.clear()
