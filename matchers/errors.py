"""The one error root of :mod:`matchers`.

MatchersError
├── InvalidIdentifier (ValueError)   an identifier that cannot be what it claims to be
│   ├── InvalidIdNumber              resident ID: wrong length, date, or check digit
│   ├── InvalidCreditCode            unified social credit code (GB 32100-2015)
│   ├── InvalidPhone                 not a valid phone number
│   └── InvalidCaseNumber            a court case number that does not parse
└── InputError (ValueError)          a table given to the linker cannot be used as it is
"""

from __future__ import annotations


class MatchersError(Exception):
    """Root of every error :mod:`matchers` raises on purpose."""


class InvalidIdentifier(MatchersError, ValueError):
    """An identifier is malformed. Messages never contain the identifier itself (PII)."""


class InvalidIdNumber(InvalidIdentifier):
    """A resident ID number is malformed: wrong length, impossible date, or wrong check digit."""


class InvalidCreditCode(InvalidIdentifier):
    """A unified social credit code is malformed or its check character is wrong."""


class InvalidPhone(InvalidIdentifier):
    """A phone number cannot be parsed or is not a valid number."""


class InvalidCaseNumber(InvalidIdentifier):
    """A court case number does not follow （年份）法院代字+案件类型+序号号."""


class InputError(MatchersError, ValueError):
    """A table given to the linker cannot be used: missing id column, duplicate ids, empty input."""
