"""The database layer: typed models, engine and session helpers, migrations and the audit log.

Everything public is exported here; ``tests/test_db_exports.py`` keeps this list exact.
"""

from __future__ import annotations

from contactfix.db.audit import AuditDetailError, PersonalDataInAudit, find_personal_data, record_audit
from contactfix.db.engine import (
    DatabaseUrlError,
    is_postgres,
    make_engine,
    normalise_url,
    session_factory,
    session_scope,
    throwaway_database,
)
from contactfix.db.migrate import (
    MigrationError,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from contactfix.db.models import (
    NAMING_CONVENTION,
    AuditEntry,
    Base,
    Contact,
    ContactChannel,
    ContactStatus,
    Debtor,
    DebtorStatus,
    Gender,
    IdType,
    IssueSeverity,
    NaiveDatetimeError,
    Organization,
    OrganizationKind,
    PartyType,
    RecordSource,
    SourceRecord,
    Submission,
    SubmissionIssue,
    SubmissionKind,
    SubmissionStatus,
    UtcDateTime,
)

__all__ = [
    "NAMING_CONVENTION",
    "AuditDetailError",
    "AuditEntry",
    "Base",
    "Contact",
    "ContactChannel",
    "ContactStatus",
    "DatabaseUrlError",
    "Debtor",
    "DebtorStatus",
    "Gender",
    "IdType",
    "IssueSeverity",
    "MigrationError",
    "NaiveDatetimeError",
    "Organization",
    "OrganizationKind",
    "PartyType",
    "PersonalDataInAudit",
    "RecordSource",
    "SourceRecord",
    "Submission",
    "SubmissionIssue",
    "SubmissionKind",
    "SubmissionStatus",
    "UtcDateTime",
    "current_revision",
    "downgrade_database",
    "find_personal_data",
    "head_revision",
    "is_postgres",
    "make_engine",
    "normalise_url",
    "record_audit",
    "session_factory",
    "session_scope",
    "throwaway_database",
    "upgrade_database",
]
