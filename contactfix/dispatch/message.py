"""The text a mediator receives: the case, the debtor (name masked), and how to call them.

It carries the privacy number (X) when the call connector granted one, never the debtor's own number:
with a direct call path (the ``outbox`` default) the number is masked and the mediator looks it up
with ``contactfix show``. The debt itself is not in the text: the mediator has the case file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Binding
from connectors.masking import mask_phone
from contactfix.db.identity_models import IdentityMember
from contactfix.db.models import Debtor, SourceRecord

__all__ = ["CaseFacts", "case_facts", "compose"]


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the text says of the case: the court case number when known, else the bank's reference."""

    case: str
    reference: str
    masked_name: str


def case_facts(session: Session, debtor_id: int) -> CaseFacts:
    """The case number of the debtor's identity (a court record's), its reference and masked name."""
    debtor = session.get(Debtor, debtor_id)
    if debtor is None:
        raise LookupError(f"debtor {debtor_id} no longer exists")
    identity = select(IdentityMember.identity_id).where(
        IdentityMember.source_record_id == debtor.source_record_id
    )
    members = select(IdentityMember.source_record_id).where(
        IdentityMember.identity_id.in_(identity.scalar_subquery())
    )
    columns = (
        SourceRecord.case_year,
        SourceRecord.court_code,
        SourceRecord.case_type,
        SourceRecord.case_sequence,
    )
    found = session.execute(
        select(*columns)
        .where(
            SourceRecord.id.in_(members) | (SourceRecord.id == debtor.source_record_id),
            SourceRecord.case_year.is_not(None),
        )
        .order_by(SourceRecord.case_year.desc(), SourceRecord.id)
        .limit(1)
    ).first()
    case = f"（{found[0]}）{found[1]}{found[2]}{found[3]}号" if found else debtor.reference
    return CaseFacts(case=case, reference=debtor.reference, masked_name=mask_name(debtor.name))


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧**明: the family name (and a last character) stay readable."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def compose(facts: CaseFacts, binding: Binding | None, debtor_phone: str, zone: dt.tzinfo) -> str:
    """The text to the mediator about one repaired contact."""
    head = f"【联系方式修复】案件{facts.case}，债务人{facts.masked_name}：已找到可用的联系电话。"
    if binding is not None and binding.virtual:
        until = ""
        if binding.expires_at is not None:
            until = f"，{binding.expires_at.astimezone(zone):%m-%d %H:%M}前有效"
        return f"{head}请拨打隐私号{binding.number}联系（仅限本案{until}）。请在允许的联系时间内拨打。"
    return (
        f"{head}号码{mask_phone(debtor_phone)}，完整号码请用 contactfix show {facts.reference} 查看。"
        "请在允许的联系时间内拨打。"
    )
