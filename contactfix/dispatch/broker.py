"""kombu's Redis transport, kept alive when Redis goes away with tasks unacknowledged.

When the broker connection drops, Celery closes it; kombu 5.7.0 has already let go of the transport's
client by then, and the channel's close tries to put the worker's unacknowledged tasks back on the
queue through that missing client: ``AttributeError: 'NoneType' object has no attribute 'hostname'``,
which Celery treats as unrecoverable, so the worker exits instead of reconnecting (seen in
``tests/test_dispatch_reliability.py`` when Redis restarts mid-batch).

Skipping that one restore loses nothing: the tasks are still in Redis's unacknowledged set, where the
visibility sweep of any worker puts them back; if Redis itself lost them, the dispatch relay enqueues
their dispatches again from the database. Celery uses this transport for ``redis://`` brokers.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

__all__ = ["Transport"]

log = logging.getLogger(__name__)


class _QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> Any:
        if client is None and getattr(self.channel.connection, "client", None) is None:
            log.warning(
                "broker connection gone: %d unacknowledged tasks left for the visibility sweep and the relay",
                len(self._delivered),
            )
            self._delivered.clear()
            return None
        return super().restore_unacked(client)  # type: ignore[no-untyped-call]  # kombu is untyped


class _Channel(kombu_redis.Channel):
    QoS = _QoS


class Transport(kombu_redis.Transport):
    """The Redis transport with a restore that survives a lost connection."""

    Channel = _Channel
