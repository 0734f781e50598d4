"""matchers: Chinese-aware probabilistic entity resolution.

Knows people, companies and their identifiers; knows nothing of databases, queues or HTTP.
Normalise → block → compare → score → cluster → explain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matchers.errors import (
    InputError,
    InvalidCaseNumber,
    InvalidCreditCode,
    InvalidIdentifier,
    InvalidIdNumber,
    InvalidPhone,
    MatchersError,
)

__all__ = [
    # The entity-resolution engine (imported on first use: see __getattr__ below).
    "DEFAULT_COMPARATORS",
    "DEFAULT_RULES",
    "BlockingRule",
    "Comparator",
    "Comparison",
    "Contribution",
    "DateComparator",
    "IdentifierComparator",
    "InputError",
    "InvalidCaseNumber",
    "InvalidCreditCode",
    "InvalidIdNumber",
    "InvalidIdentifier",
    "InvalidPhone",
    "KnownPairs",
    "LinkResult",
    "LinkSettings",
    "Linker",
    "LocationComparator",
    "MatchModel",
    "MatchersError",
    "NameComparator",
    "PairExplanation",
    "PairTable",
    "PersonRecords",
    "RawTable",
    "RuleReport",
    "SettingsError",
    "StringComparator",
]

# Where each engine name lives. They load lazily so that ``from matchers import InvalidIdNumber`` does not
# pull in numpy and rapidfuzz.
_ENGINE = {
    "DEFAULT_COMPARATORS": "matchers.linker",
    "DEFAULT_RULES": "matchers.blocking",
    "BlockingRule": "matchers.blocking",
    "Comparator": "matchers.compare",
    "Comparison": "matchers.compare",
    "Contribution": "matchers.explain",
    "DateComparator": "matchers.compare",
    "IdentifierComparator": "matchers.compare",
    "KnownPairs": "matchers.linker",
    "LinkResult": "matchers.results",
    "LinkSettings": "matchers.linker",
    "Linker": "matchers.linker",
    "LocationComparator": "matchers.compare_person",
    "MatchModel": "matchers.scoring",
    "NameComparator": "matchers.compare_person",
    "PairExplanation": "matchers.explain",
    "PairTable": "matchers.results",
    "PersonRecords": "matchers.normalize",
    "RawTable": "matchers.normalize",
    "RuleReport": "matchers.blocking",
    "SettingsError": "matchers.linker",
    "StringComparator": "matchers.compare",
}

if TYPE_CHECKING:
    from matchers.blocking import DEFAULT_RULES, BlockingRule, RuleReport
    from matchers.compare import (
        Comparator,
        Comparison,
        DateComparator,
        IdentifierComparator,
        StringComparator,
    )
    from matchers.compare_person import LocationComparator, NameComparator
    from matchers.explain import Contribution, PairExplanation
    from matchers.linker import DEFAULT_COMPARATORS, KnownPairs, Linker, LinkSettings, SettingsError
    from matchers.normalize import PersonRecords, RawTable
    from matchers.results import LinkResult, PairTable
    from matchers.scoring import MatchModel


def __getattr__(name: str) -> Any:
    module = _ENGINE.get(name)
    if module is None:
        raise AttributeError(f"module 'matchers' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
