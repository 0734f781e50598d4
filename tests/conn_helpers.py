"""Small shared helpers for the connector tests: an injectable clock and sample repair requests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.repair import Authorisation, RepairRequest, hash_id_number

BEIJING = ZoneInfo("Asia/Shanghai")
MEDIATOR = "+8613900000001"


class Clock:
    """A clock the test sets; connectors call it like ``datetime.now``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def beijing(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A July 2025 instant, Beijing time."""
    return datetime(2025, 7, day, hour, minute, second, tzinfo=BEIJING)


def request(n: int, *, reference: str | None = None, auth: Authorisation | None = None) -> RepairRequest:
    """Debtor ``n``: a stable ID hash, a loan-contract authorisation ``HT-2023-000n``."""
    authorisation = auth or Authorisation("loan_contract", reference or f"HT-2023-{n:04d}")
    return RepairRequest(
        f"债务人{n}", hash_id_number(f"35010319900101{n:03d}X"), "+8613812340000", authorisation
    )
