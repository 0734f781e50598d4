"""The moves a dispatch may make. States only move forward; ``retry-dead`` is the one way back.

    pending ──► deferred ──► sending ──► sent ──► delivered
       │  ▲         ▲  │          │         └───► failed
       │  └─────────┘  │          ├──► delivered / failed / dead
       └───────────────┴──► blocked (a policy stop: objection, do-not-contact, third-party rules)

``deferred`` is a policy wait (the row says until when) and may be deferred again, also when a retry
falls outside the hours; ``sending`` is a
worker's claim, taken again by another worker once its lease ran out (a worker killed mid-send).
``delivered``, ``failed``, ``dead`` and ``blocked`` are final.
"""

from __future__ import annotations

from contactfix.db.dispatch_models import DispatchState

__all__ = ["CLAIMABLE", "FINAL", "can_move"]

S = DispatchState
FINAL = frozenset({S.DELIVERED, S.FAILED, S.DEAD, S.BLOCKED})
# A worker may claim a dispatch in these states (sending: only once the earlier claim's lease ended).
CLAIMABLE = frozenset({S.PENDING, S.DEFERRED, S.SENDING})

_MOVES: dict[DispatchState, frozenset[DispatchState]] = {
    S.PENDING: frozenset({S.DEFERRED, S.SENDING, S.BLOCKED}),
    S.DEFERRED: frozenset({S.DEFERRED, S.SENDING, S.BLOCKED}),
    # A retry is gated again: past the contact hours it waits (deferred), after an objection it stops.
    S.SENDING: frozenset({S.SENDING, S.SENT, S.DELIVERED, S.FAILED, S.DEAD, S.DEFERRED, S.BLOCKED}),
    S.SENT: frozenset({S.DELIVERED, S.FAILED}),
}


def can_move(current: DispatchState | str, new: DispatchState | str) -> bool:
    """True when a dispatch in ``current`` may take ``new`` (final states never change)."""
    return DispatchState(new) in _MOVES.get(DispatchState(current), frozenset())
