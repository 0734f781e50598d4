"""What operators ask of dispatch: how many are in each state, and requeueing the dead."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from contactfix.db.audit import record_audit
from contactfix.db.dispatch_models import Dispatch, DispatchState

__all__ = ["retry_dead", "state_counts"]


def state_counts(session: Session) -> dict[str, int]:
    """Every state → how many dispatches are in it (zeros included), in the order of the life cycle."""
    rows = session.execute(select(Dispatch.state, func.count()).group_by(Dispatch.state))
    found = {state: int(count) for state, count in rows}
    return {state.value: int(found.get(state.value, 0)) for state in DispatchState}


def retry_dead(session: Session) -> int:
    """Put every dead dispatch back to pending with its attempts reset; return how many. The caller commits.

    The one move backwards: an operator's decision after fixing what killed them (a provider outage,
    a wrong credential). Their last error stays on the row until the next attempt replaces it.
    """
    revived = session.execute(
        update(Dispatch)
        .where(Dispatch.state == DispatchState.DEAD.value)
        .values(
            state=DispatchState.PENDING.value,
            attempts=0,
            next_attempt_at=None,
            lease_until=None,
            enqueued_at=None,
            finished_at=None,
        )
        .returning(Dispatch.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    ids = list(revived)
    if ids:
        record_audit(session, "operator", "dispatch.retry_dead", "dispatch", None, count=len(ids))
    return len(ids)
