"""Repair rules shared by every adapter (batch checks, tokens, binding window) and the sandbox connector."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conn_helpers import MEDIATOR, Clock, beijing, request

from connectors import InvalidMessage, PermanentError
from connectors.repair import (
    MAX_BATCH,
    Authorisation,
    OutsideProviderWindow,
    RepairConnector,
    RepairRequest,
    RepairStatus,
    VirtualBindRequest,
    check_binding_time,
    hash_id_number,
    prepare_batch,
)
from connectors.repair.base import decode_token, encode_token
from connectors.repair.sandbox import SandboxRepairConnector


def test_hash_id_number_upper_cases_the_check_letter() -> None:
    assert hash_id_number(" 35010319900101123x ") == hash_id_number("35010319900101123X")
    assert len(hash_id_number("35010319900101123X")) == 64


def test_request_accepts_only_a_hash_never_a_raw_id() -> None:
    with pytest.raises(InvalidMessage):
        RepairRequest("张三", "35010319900101123X", None, Authorisation("loan_contract", "HT-1"))


@pytest.mark.parametrize(
    "auth",
    [
        None,
        Authorisation("loan_contract", "  "),
        Authorisation("court_delegation", "WT-9"),  # a delegation needs its case number
        Authorisation("verbal", "HT-1"),  # type: ignore[arg-type]
    ],
)
def test_a_request_without_valid_authorisation_refuses_the_batch(auth: Authorisation | None) -> None:
    bad = RepairRequest("张三", hash_id_number("350103199001011234"), None, auth)
    with pytest.raises(PermanentError, match="positions 1"):
        prepare_batch([request(1), bad])


def test_court_delegation_with_case_number_is_accepted() -> None:
    court = Authorisation("court_delegation", "WT-9", "（2024）闽0103民初1234号")
    assert prepare_batch([request(1, auth=court)]).requests[0].authorisation == court


def test_duplicates_merge_with_the_later_request_winning() -> None:
    first, other = request(1), request(2)
    later = RepairRequest("张三(更正)", first.id_sha256, None, Authorisation("loan_contract", "HT-NEW"))
    batch = prepare_batch([first, other, later])
    assert batch.requests == (later, other)
    assert batch.superseded == (first,)


def test_batch_size_counts_distinct_debtors() -> None:
    full = [request(n) for n in range(MAX_BATCH)]
    assert len(prepare_batch([*full, full[0]]).requests) == MAX_BATCH
    with pytest.raises(PermanentError, match="1001 distinct"):
        prepare_batch([*full, request(MAX_BATCH)])
    with pytest.raises(PermanentError, match="empty"):
        prepare_batch([])


def test_two_debtors_may_not_share_a_reference() -> None:
    with pytest.raises(PermanentError, match="share an authorisation reference"):
        prepare_batch([request(1, reference="HT-1"), request(2, reference="HT-1")])


def test_token_round_trip_and_malformed_tokens() -> None:
    until = beijing(31, 0)
    token = decode_token(encode_token("284251611566600000", "HT:2023/1", until))
    assert (token.batch_id, token.reference, token.valid_until) == ("284251611566600000", "HT:2023/1", until)
    for broken in ["", "rt1.%%%", "rt2.e30", encode_token("b", "r", None)[:-3]]:
        with pytest.raises(InvalidMessage):
            decode_token(broken)


@pytest.mark.parametrize(
    ("now", "retry_at"),
    [
        (beijing(1, 7, 59, 59), beijing(1, 8)),
        (beijing(1, 8), None),
        (beijing(1, 21, 30), None),
        (beijing(1, 21, 30, 1), beijing(2, 8)),
        (datetime(2025, 7, 1, 0, 30, tzinfo=UTC), None),  # 08:30 in Beijing
        (datetime(2025, 7, 1, 14, 0, tzinfo=UTC), beijing(2, 8)),  # 22:00 in Beijing
    ],
)
def test_binding_window(now: datetime, retry_at: datetime | None) -> None:
    if retry_at is None:
        check_binding_time(now, beijing(31, 0), "Asia/Shanghai")
        return
    with pytest.raises(OutsideProviderWindow) as closed:
        check_binding_time(now, beijing(31, 0), "Asia/Shanghai")
    assert closed.value.retry_at == retry_at


def test_outside_window_error_survives_pickling() -> None:
    with pytest.raises(OutsideProviderWindow) as closed:
        check_binding_time(beijing(1, 23), None, "Asia/Shanghai")
    copy = pickle.loads(pickle.dumps(closed.value))
    assert isinstance(copy, OutsideProviderWindow) and copy.retry_at == beijing(2, 8)
    assert str(copy) == str(closed.value)


def test_binding_after_the_due_date_is_permanent() -> None:
    with pytest.raises(PermanentError, match="due date"):
        check_binding_time(beijing(10, 9), beijing(10, 0), "Asia/Shanghai")


def sandbox(clock: Clock, **options: object) -> SandboxRepairConnector:
    records = {request(1).id_sha256: ["+8613700000001", "+8613700000002"]}
    return SandboxRepairConnector(records, clock=clock, **options)  # type: ignore[arg-type]


def test_sandbox_says_so_in_every_result() -> None:
    repair = sandbox(Clock(beijing(1, 10)))
    assert isinstance(repair, RepairConnector)
    batch = repair.submit([request(1), request(2)])
    results = {result.reference: result for result in repair.query(batch)}
    assert all(result.sandbox and result.note.startswith("sandbox") for result in results.values())
    found, missing = results["HT-2023-0001"], results["HT-2023-0002"]
    assert found.status is RepairStatus.REPAIRED and found.phones == ("+8613700000001", "+8613700000002")
    assert found.valid_until == beijing(31, 0).replace(month=8, day=1)
    assert missing.status is RepairStatus.NOT_REPAIRED and missing.token is None and not missing.phones


def test_sandbox_resubmission_is_the_same_batch_and_unknown_batches_are_refused() -> None:
    repair = sandbox(Clock(beijing(1, 10)))
    assert repair.submit([request(1), request(2)]) == repair.submit([request(2), request(1)])
    with pytest.raises(PermanentError, match="unknown repair batch"):
        repair.query("sandbox-nope")


def test_sandbox_binding_follows_the_rules() -> None:
    clock = Clock(beijing(1, 10))
    repair = sandbox(clock, registered_callers=[MEDIATOR])
    [found] = [r for r in repair.query(repair.submit([request(1), request(2)])) if r.token]
    assert found.token is not None
    binding = repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, found.token))
    assert binding.calls_only and binding.sandbox and binding.virtual_number == "+8613700000001"
    assert binding.valid_until == found.valid_until
    with pytest.raises(PermanentError, match="not registered") as refused:
        repair.bind_virtual_number(VirtualBindRequest("+8613900000009", found.token))
    assert "13900000009" not in str(refused.value)
    clock.now = beijing(1, 22)
    with pytest.raises(OutsideProviderWindow):
        repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, found.token))
    clock.now = beijing(31, 23, 59).replace(month=8)
    with pytest.raises(PermanentError, match="due date"):
        repair.bind_virtual_number(VirtualBindRequest(MEDIATOR, found.token))


def test_sandbox_reads_records_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps({request(2).id_sha256.upper(): ["+8613700000002"]}), encoding="utf-8")
    repair = SandboxRepairConnector(records_path=path, clock=Clock(beijing(1, 10)))
    results = repair.query(repair.submit([request(2)]))
    assert results[0].phones == ("+8613700000002",)
