"""Sample data: a bank's batch of lost debtors and a court export, with the truth behind them.

``write_sample`` writes the files ``contactfix sample`` promises; ``generate_records`` yields the
same world row by row, each row with its person and the corruptions applied, for tests and
benchmarks that need more than the files.
"""

from __future__ import annotations

from contactfix.sample.people import AS_OF, Address, Person, credit_code_check, id_check_digit
from contactfix.sample.records import (
    BANK_FIELDS,
    COURT_FIELDS,
    BankRow,
    CourtRow,
    PersonRecords,
    generate_records,
)
from contactfix.sample.writer import ENCODINGS, SampleSummary, header, write_sample

__all__ = [
    "AS_OF",
    "BANK_FIELDS",
    "COURT_FIELDS",
    "ENCODINGS",
    "Address",
    "BankRow",
    "CourtRow",
    "Person",
    "PersonRecords",
    "SampleSummary",
    "credit_code_check",
    "generate_records",
    "header",
    "id_check_digit",
    "write_sample",
]
