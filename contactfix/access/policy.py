"""The one place that decides what a caller may do and see.

Every API route asks it, in two steps, and never filters by hand:

1. :func:`require` — may a caller of this role do this at all? No: :class:`Forbidden` (403).
2. :func:`scope` — which rows of a kind are theirs: a SQL condition to add to the query. A row
   outside it is :class:`~contactfix.errors.NotFound` (404), never 403, so that another
   organisation's object does not exist for them.

A bank sees its own debtors, submissions and exports; a mediator the cases assigned to them (their
debtors); an operator runs the service and sees its operational state, not a bank's debtors.

What a bank is shown of an identity is the third decision (:class:`ContactView`): other banks'
records help link identities, but their contacts and references are shown to a bank only when
``share_contacts_across_banks`` is on, and then as "another bank", never its name or reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, select

from contactfix.access.caller import Caller
from contactfix.access.errors import Forbidden
from contactfix.db.access_models import UserRole
from contactfix.db.dispatch_models import CaseAssignment
from contactfix.db.models import Debtor, Submission

__all__ = [
    "ANOTHER_BANK",
    "Action",
    "ContactView",
    "Resource",
    "bank_record_ids",
    "may",
    "require",
    "scope",
]

ANOTHER_BANK = "another bank"


class Action(StrEnum):
    """What a caller can ask to do; each role may do a fixed set (:data:`_ALLOWED`)."""

    SUBMIT = "submission.create"
    READ_SUBMISSION = "submission.read"
    READ_DEBTOR = "debtor.read"
    EXPORT = "export.contacts"
    READ_REPORT = "report.read"
    LIST_CASES = "case.list"
    READ_CASE = "case.read"
    CALL = "case.call"
    REPORT_OUTCOME = "case.outcome"
    OPERATE = "operations"  # reconciliation runs, dispatch status and retries, mediators
    UPLOAD_COURT_RECORDS = "court_records.create"
    READ_AUDIT = "audit.read"
    REVIEW_LINKS = "links.review"  # the review queue: two records side by side, masked; same or not


class Resource(StrEnum):
    """Kinds of rows a caller may see some of."""

    DEBTOR = "debtor"
    SUBMISSION = "submission"
    CASE = "case"


_ALLOWED: Mapping[UserRole, frozenset[Action]] = {
    UserRole.BANK: frozenset(
        {Action.SUBMIT, Action.READ_SUBMISSION, Action.READ_DEBTOR, Action.EXPORT, Action.READ_REPORT}
    ),
    UserRole.MEDIATOR: frozenset({Action.LIST_CASES, Action.READ_CASE, Action.CALL, Action.REPORT_OUTCOME}),
    UserRole.OPERATOR: frozenset(
        {Action.OPERATE, Action.UPLOAD_COURT_RECORDS, Action.READ_AUDIT, Action.REVIEW_LINKS}
    ),
}


def may(caller: Caller, action: Action) -> bool:
    """True when ``caller``'s role may do ``action``."""
    return action in _ALLOWED.get(caller.role, frozenset())


def require(caller: Caller, action: Action) -> None:
    """Return when ``caller`` may do ``action``; raise :class:`Forbidden` (HTTP 403) otherwise."""
    if not may(caller, action):
        raise Forbidden(f"a {caller.role.value} user may not do this ({action.value})")


def scope(caller: Caller, resource: Resource) -> ColumnElement[bool]:
    """The SQL condition that keeps the rows of ``resource`` ``caller`` may see.

    ``DEBTOR`` and ``CASE`` are conditions on ``debtors`` (a case is the debtor assigned to a
    mediator); ``SUBMISSION`` on ``submissions``. Whatever is not granted here is nothing (false).
    """
    if resource is Resource.SUBMISSION:
        if caller.role is UserRole.BANK:
            return Submission.organization_id == caller.organization_id
        return false()
    if caller.role is UserRole.BANK and resource is Resource.DEBTOR:
        return Debtor.organization_id == caller.organization_id
    if caller.role is UserRole.MEDIATOR and resource is Resource.CASE and caller.mediator_id is not None:
        mine = select(CaseAssignment.debtor_id).where(CaseAssignment.mediator_id == caller.mediator_id)
        return Debtor.id.in_(mine)
    return false()


@dataclass(frozen=True, slots=True)
class ContactView:
    """What the bank ``organization_id`` is shown of its debtors' identities.

    Records are described by ``(source, organization_id)``; a bank's own records, and any record that
    is not a bank's (court, carrier, mediator), are shown as they are. Another bank's record is left
    out, or, with ``share_contacts_across_banks``, shown as :data:`ANOTHER_BANK` without its
    organisation, reference or record id.
    """

    organization_id: int
    share_contacts_across_banks: bool = False

    def record_shown(self, source: str, organization_id: int | None) -> bool | None:
        """True: shown as is; None: shown as "another bank"; False: not shown."""
        if source != "bank" or organization_id == self.organization_id:
            return True
        return None if self.share_contacts_across_banks else False

    def sources(
        self, sources: Iterable[Mapping[str, Any]], organizations: Mapping[int, int | None]
    ) -> list[dict[str, Any]]:
        """A ranking's provenance as this bank may see it (``organizations``: record id → its org)."""
        shown: list[dict[str, Any]] = []
        for source in sources:
            record_id = source.get("record_id")
            org = organizations.get(record_id) if isinstance(record_id, int) else None
            verdict = self.record_shown(str(source.get("source") or ""), org)
            if verdict is True:
                shown.append(dict(source))
            elif verdict is None:
                shown.append(
                    {"record_id": None, "source": ANOTHER_BANK, "reference": None,
                     "observed_on": source.get("observed_on")}
                )  # fmt: skip
        return shown


def bank_record_ids(rankings_sources: Iterable[Sequence[Mapping[str, Any]]]) -> set[int]:
    """The record ids of the bank sources in some rankings: the ones whose organisation must be known."""
    return {
        int(source["record_id"])
        for sources in rankings_sources
        for source in sources
        if source.get("source") == "bank" and isinstance(source.get("record_id"), int)
    }
