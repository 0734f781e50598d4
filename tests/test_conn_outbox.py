"""The outbox connector: one fsynced JSON line per message, idempotent, safe for concurrent processes."""

from __future__ import annotations

import multiprocessing
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import DeliveryStatus, RetryableError, SmsMessage
from connectors.base import BindRequest, CallConnector, SmsConnector
from connectors.outbox import OutboxConnector, read_outbox

LONG_CHINESE = "您好，请于本周内联系调解员处理您的案件。" * 400  # ~8,000 characters, far past PIPE_BUF


def message(key: str, text: str = "你好") -> SmsMessage:
    return SmsMessage(to="+8613812345678", text=text, idempotency_key=key, metadata={"case": "C-1"})


def test_implements_sms_and_call_protocols(tmp_path: Path) -> None:
    outbox = OutboxConnector(tmp_path / "out.jsonl")
    assert isinstance(outbox, SmsConnector) and isinstance(outbox, CallConnector)


def test_send_appends_one_owner_only_json_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    result = OutboxConnector(path).send(message("dispatch-1"))
    [entry] = read_outbox(path)
    assert entry["kind"] == "sms" and entry["idempotency_key"] == "dispatch-1"
    assert (
        entry["to"] == "+8613812345678" and entry["text"] == "你好" and entry["metadata"] == {"case": "C-1"}
    )
    assert result.provider == "outbox" and result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_ids == (entry["provider_message_id"],)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8").count("\n") == 1


def test_sending_the_same_key_twice_is_one_send_even_from_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    first = OutboxConnector(path).send(message("dispatch-1"))
    again = OutboxConnector(path).send(message("dispatch-1", text="different text, same key"))
    OutboxConnector(path).send(message("dispatch-2"))
    assert again == first
    assert [entry["idempotency_key"] for entry in read_outbox(path)] == ["dispatch-1", "dispatch-2"]


def test_bind_and_unbind_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    outbox = OutboxConnector(path)
    expires = datetime(2025, 1, 31, 12, tzinfo=UTC)
    request = BindRequest(
        caller="+8613800000001", callee="+8613812345678", idempotency_key="b1", expires_at=expires
    )
    binding = outbox.bind(request)
    assert outbox.bind(request) == binding
    assert binding.number == "+8613812345678" and not binding.virtual and binding.expires_at == expires
    outbox.unbind(binding.binding_id)
    outbox.unbind(binding.binding_id)
    assert [entry["kind"] for entry in read_outbox(path)] == ["bind", "unbind"]


def test_unwritable_outbox_is_retryable(tmp_path: Path) -> None:
    with pytest.raises(RetryableError):
        OutboxConnector(tmp_path / "missing-dir" / "out.jsonl").send(message("k"))


def test_read_outbox_missing_file_and_broken_line(tmp_path: Path) -> None:
    assert read_outbox(tmp_path / "none.jsonl") == []
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"kind": "sms"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_outbox(broken)


def _send_many(path: str, worker: int, count: int) -> None:
    outbox = OutboxConnector(path)
    for i in range(count):
        outbox.send(message(f"w{worker}-{i}", text=f"{worker}:{i}:{LONG_CHINESE}"))
        outbox.send(message(f"shared-{i}", text=f"shared from {worker}:{LONG_CHINESE}"))


def test_concurrent_processes_write_whole_lines_and_each_key_once(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    workers, count = 4, 15
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_send_many, args=(str(path), w, count)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    entries = read_outbox(path)  # raises if any line was torn or interleaved
    keys = [entry["idempotency_key"] for entry in entries]
    expected = {f"w{w}-{i}" for w in range(workers) for i in range(count)} | {
        f"shared-{i}" for i in range(count)
    }
    assert sorted(keys) == sorted(expected)
    assert all(entry["text"].endswith(LONG_CHINESE) for entry in entries)
    assert os.path.getsize(path) > workers * count * len(LONG_CHINESE.encode())
