"""Carrier lost-contact repair (失联修复): the :class:`RepairConnector` contract and its values.

Adapters: :mod:`connectors.repair.sandbox` (local records, the embedded default) and
:mod:`connectors.repair.http` (a carrier-channel provider over HTTP). Load them through
:mod:`connectors.registry`.
"""

from __future__ import annotations

from connectors.repair.base import (
    MAX_BATCH,
    Authorisation,
    OutsideProviderWindow,
    PreparedBatch,
    RepairConnector,
    RepairPending,
    RepairRequest,
    RepairResult,
    RepairStatus,
    VirtualBinding,
    VirtualBindRequest,
    check_binding_time,
    hash_id_number,
    prepare_batch,
)

__all__ = [
    "MAX_BATCH",
    "Authorisation",
    "OutsideProviderWindow",
    "PreparedBatch",
    "RepairConnector",
    "RepairPending",
    "RepairRequest",
    "RepairResult",
    "RepairStatus",
    "VirtualBindRequest",
    "VirtualBinding",
    "check_binding_time",
    "hash_id_number",
    "prepare_batch",
]
