"""A hand-built world for repair tests: a bank, a court, debtors, their records and identities."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable

from sqlalchemy.orm import Session

from contactfix.db.identity_models import Identity, IdentityMember, ReconcileRun, RecordLink
from contactfix.db.models import Contact, Debtor, Organization, SourceRecord

BANK_SENT = dt.date(2026, 6, 1)
AS_OF = dt.date(2026, 6, 30)
_keys = itertools.count(1)


class World:
    """Builds rows through one session; every method flushes so ids are known."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.bank = Organization(name="bank-a", kind="bank")
        self.other_bank = Organization(name="bank-b", kind="bank")
        self.court = Organization(name="court-export", kind="court")
        session.add_all([self.bank, self.other_bank, self.court])
        session.flush()
        self.bank_records: dict[int, SourceRecord] = {}  # debtor id → its bank record

    def run(self) -> int:
        """A new reconcile run (rankings must name one)."""
        run = ReconcileRun(status="running", full=True)
        self.session.add(run)
        self.session.flush()
        return run.id

    def record(
        self,
        source: str,
        name: str,
        *,
        reference: str,
        observed_on: dt.date,
        phones: Iterable[str] = (),
        addresses: Iterable[str] = (),
        organization: Organization | None = None,
        line_type: str = "mobile",
    ) -> SourceRecord:
        """One source record with its contacts."""
        org = organization or (self.court if source == "court" else self.bank)
        record = SourceRecord(
            source=source, record_key=f"{source}:{next(_keys)}", organization_id=org.id, reference=reference,
            observed_on=observed_on, name_original=name, name=name,
        )  # fmt: skip
        self.session.add(record)
        self.session.flush()
        for phone in phones:
            self.contact(record, "phone", phone, line_type=line_type)
        for address in addresses:
            self.contact(record, "address", address)
        return record

    def contact(self, record: SourceRecord, channel: str, value: str, **values: object) -> Contact:
        """One more contact on ``record``."""
        contact = Contact(
            source_record_id=record.id, channel=channel, value=value, first_seen=record.observed_on,
            last_seen=record.observed_on, **values,
        )  # fmt: skip
        self.session.add(contact)
        self.session.flush()
        return contact

    def debtor(self, reference: str, name: str, phone: str | None, *, status: str = "lost") -> Debtor:
        """A debtor of the bank with its bank record (and the phone the bank lost)."""
        record = self.record(
            "bank", name, reference=reference, observed_on=BANK_SENT, phones=[phone] if phone else []
        )
        debtor = Debtor(
            organization_id=self.bank.id, reference=reference, source_record_id=record.id,
            party_type="person", name_original=name, name=name, id_type="resident_id",
            id_number="350103199001011234", status=status,
        )  # fmt: skip
        self.session.add(debtor)
        self.session.flush()
        self.bank_records[debtor.id] = record
        return debtor

    def identity(self, run_id: int, *records: tuple[SourceRecord, float]) -> Identity:
        """One identity of ``records`` with their membership probabilities."""
        identity = Identity()
        self.session.add(identity)
        self.session.flush()
        for record, probability in records:
            self.session.add(
                IdentityMember(
                    source_record_id=record.id,
                    identity_id=identity.id,
                    probability=probability,
                    run_id=run_id,
                )
            )
        self.session.flush()
        return identity

    def link(
        self,
        run_id: int,
        first: SourceRecord,
        second: SourceRecord,
        probability: float,
        weights: dict[str, float],
    ) -> None:
        """A stored link between two records, with its explanation (match weights in bits)."""
        a, b = sorted((first.id, second.id))
        self.session.add(RecordLink(record_a_id=a, record_b_id=b, probability=probability, weights=weights,
                                    run_id=run_id))  # fmt: skip
        self.session.flush()
