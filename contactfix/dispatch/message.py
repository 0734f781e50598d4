"""The text a mediator receives: the case, the debtor (name masked), and how to call them.

It carries the privacy number (X) when the call connector granted one, never the debtor's own number:
with a direct call path (the ``outbox`` default) the number is masked and the text links to the case
page (``{public_base_url}/cases/{case_id}``), where the mediator signs in and dials it; a mediator has
no shell on the server. The debt itself is not in the text: the mediator has the case file.

Chinese texts go as UCS-2: 70 characters make one SMS, longer ones are split into parts of 67
(:func:`sms_parts`). The texts here stay within two parts for a long case number, a 7-digit case id
and a ``public_base_url`` of up to 30 characters (tests/test_dispatch_message.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, ScalarSelect, String, cast, literal, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from connectors.base import Binding
from connectors.masking import mask_phone
from contactfix.db.identity_models import IdentityMember
from contactfix.db.models import SourceRecord

__all__ = ["CaseFacts", "case_number_of", "case_url", "compose", "mask_name", "sms_parts"]


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the text says of the case: the court case number when known, else the bank's reference,
    and the link to the mediator's page of the case (:func:`case_url`)."""

    case: str
    reference: str
    masked_name: str
    url: str


def case_url(public_base_url: str, case_id: int) -> str:
    """The mediator's page of a case: ``{public_base_url}/cases/{case_id}``.

    ``case_id`` is the case assignment's key, which is the debtor's id (``case_assignments.debtor_id``):
    a mediator has one case per debtor assigned to them.
    """
    return f"{public_base_url.rstrip('/')}/cases/{int(case_id)}"


def sms_parts(text: str) -> int:
    """How many SMS ``text`` takes as UCS-2 (anything with Chinese): one up to 70 UTF-16 code units,
    else parts of 67 (the other 3 carry the concatenation header)."""
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def case_number_of(
    source_record_id: ColumnElement[int] | InstrumentedAttribute[int] | int,
) -> ScalarSelect[str]:
    """The newest case number among the records of the identity of ``source_record_id`` (a column, so
    it can be one more column of a larger query), spelled （2025）闽0103民初12号; NULL when none has one."""
    record = SourceRecord
    # Explicit aliases and correlation: auto-correlation would tie the inner identity_members to the
    # outer one and pull the caller's debtors table into the subquery instead.
    own, same = aliased(IdentityMember), aliased(IdentityMember)
    members = (
        select(same.source_record_id)
        .join(own, own.identity_id == same.identity_id)
        .where(own.source_record_id == source_record_id)
        .correlate_except(own, same)
    )
    spelled = (
        literal("（", String) + cast(record.case_year, String) + literal("）", String) + record.court_code
        + record.case_type + cast(record.case_sequence, String) + literal("号", String)
    )  # fmt: skip
    return (
        select(spelled)
        .where(record.id.in_(members) | (record.id == source_record_id), record.case_year.is_not(None))
        .order_by(record.case_year.desc(), record.id)
        .limit(1)
        .correlate_except(record)
        .scalar_subquery()
    )


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧**明: the family name (and a last character) stay readable."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def compose(facts: CaseFacts, binding: Binding | None, debtor_phone: str, zone: dt.tzinfo) -> str:
    """The text to the mediator about one repaired contact."""
    head = f"【联系方式修复】案件{facts.case}，债务人{facts.masked_name}："
    # The link comes last, after a space: phones end a link at a space or the end, and may run it on
    # into Chinese punctuation.
    if binding is not None and binding.virtual:
        until = ""
        if binding.expires_at is not None:
            until = f"（{binding.expires_at.astimezone(zone):%m-%d %H:%M}前有效）"
        return f"{head}请在允许的联系时间内拨打本案隐私号{binding.number}{until}，详情 {facts.url}"
    return f"{head}已找到可用号码{mask_phone(debtor_phone)}，请在允许的联系时间内打开 {facts.url} 拨打"
