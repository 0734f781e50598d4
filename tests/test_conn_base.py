"""connectors.base and connectors.masking: statuses move forward only, messages validate, PII is masked."""

from __future__ import annotations

import itertools

import pytest

import connectors
from connectors import (
    DeliveryStatus,
    InvalidMessage,
    PermanentError,
    SmsMessage,
    can_move,
    mask_id_number,
    mask_phone,
    mask_text,
)
from connectors.base import BindRequest

S = DeliveryStatus
FINAL = {S.DELIVERED, S.FAILED, S.EXPIRED, S.REJECTED}


def test_exported_names_are_exactly_the_public_api() -> None:
    public = {name for name in vars(connectors) if not name.startswith("_")}
    modules = {
        "base",
        "errors",
        "masking",
        "registry",
        "repair",
        "annotations",
        "http",
        "outbox",
        "sms",
        "calls",
        "aliyun_rpc",
    }
    assert set(connectors.__all__) == public - modules
    assert sorted(connectors.__all__) == sorted(set(connectors.__all__))


def test_final_statuses() -> None:
    assert {status for status in S if status.is_final} == FINAL


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_can_move_only_forward(current: DeliveryStatus, new: DeliveryStatus) -> None:
    order = [S.UNKNOWN, S.QUEUED, S.SENT]
    if current in FINAL or current == new or new == S.UNKNOWN:
        expected = False
    elif new in FINAL:
        expected = True
    else:
        expected = order.index(new) > order.index(current)
    assert can_move(current, new) is expected


def test_a_receipt_sequence_applied_with_can_move_ignores_repeats_and_stragglers() -> None:
    state = S.UNKNOWN
    for incoming in [S.SENT, S.QUEUED, S.DELIVERED, S.DELIVERED, S.FAILED, S.SENT]:
        if can_move(state, incoming):
            state = incoming
    assert state is S.DELIVERED


def test_sms_message_requires_e164_and_masks_the_number_it_refuses() -> None:
    with pytest.raises(InvalidMessage) as refused:
        SmsMessage(to="13812345678", text="hi", idempotency_key="k")
    assert "13812345678" not in str(refused.value)
    assert "138****5678" in str(refused.value)
    assert isinstance(refused.value, PermanentError) and isinstance(refused.value, ValueError)
    with pytest.raises(InvalidMessage):
        SmsMessage(to="+8613812345678", text="", idempotency_key="k")
    with pytest.raises(InvalidMessage):
        SmsMessage(to="+8613812345678", text="hi", idempotency_key="")


def test_sms_message_metadata_is_a_frozen_copy() -> None:
    source = {"case": "A1"}
    message = SmsMessage(to="+8613812345678", text="hi", idempotency_key="k", metadata=source)
    source["case"] = "changed"
    assert message.metadata["case"] == "A1"
    with pytest.raises(TypeError):
        message.metadata["case"] = "x"  # type: ignore[index]


def test_bind_request_checks_both_numbers() -> None:
    with pytest.raises(InvalidMessage):
        BindRequest(caller="+8613800000000", callee="0591-1234567", idempotency_key="k")


def test_masking() -> None:
    assert mask_phone("+8613812345678") == "+86 138****5678"
    assert mask_phone("+14155552671") == "+141****2671"
    assert "12" not in mask_phone("123")
    assert mask_id_number("35010319900101123X") == "350103********123X"
    text = "bad number 8613812345678, id 350103199001011234, code 0045 at 21:30"
    masked = mask_text(text)
    assert "13812345678" not in masked and "19900101" not in masked
    assert "code 0045 at 21:30" in masked
