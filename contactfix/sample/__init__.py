"""Sample data: a bank's batch of lost debtors and a court export, with the truth behind them.

``write_sample`` writes the files ``contactfix sample`` promises; ``generate_records`` yields the
same world row by row, each row with its person and the corruptions applied, for tests and
benchmarks that need more than the files. :class:`SampleSettings` holds the realism knobs and
:data:`PROFILES` the named settings (``realistic`` is the default, ``legacy`` the first generator).
"""

from __future__ import annotations

from contactfix.sample.people import AS_OF, Address, Person, credit_code_check, id_check_digit
from contactfix.sample.records import (
    BANK_FIELDS,
    COURT_FIELDS,
    LOST_ON_FIELD,
    PHONE_STATUSES,
    BankRow,
    CourtRow,
    PersonRecords,
    bank_fields,
    generate_records,
    phone_status,
)
from contactfix.sample.settings import DEFAULT_PROFILE, PROFILES, REALISTIC, SampleSettings
from contactfix.sample.writer import ENCODINGS, SampleSummary, header, write_sample

__all__ = [
    "AS_OF",
    "BANK_FIELDS",
    "COURT_FIELDS",
    "DEFAULT_PROFILE",
    "ENCODINGS",
    "LOST_ON_FIELD",
    "PHONE_STATUSES",
    "PROFILES",
    "REALISTIC",
    "Address",
    "BankRow",
    "CourtRow",
    "Person",
    "PersonRecords",
    "SampleSettings",
    "SampleSummary",
    "bank_fields",
    "credit_code_check",
    "generate_records",
    "header",
    "id_check_digit",
    "phone_status",
    "write_sample",
]
