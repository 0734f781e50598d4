"""Interoperability: the SMPP connector against smpp34's server, an independent (Rust) SMPP 3.4 codec.

tests/smpp_server.py shares smpplib's codec with the connector, so a symmetric encoding mistake
could pass there; this test has a different implementation decode our PDUs and encode the receipts.
smpp34 belongs in the dev extra; without it the test fails in CI and is skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from connectors import DeliveryReceipt, DeliveryStatus, SmsMessage
from connectors.sms.smpp import SmppConnector

try:
    import smpp34
except ImportError:  # pragma: no cover - depends on the environment
    smpp34 = None  # type: ignore[assignment]

# A crash of the connector's session thread must fail the test, not merely warn.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

CHINESE = "您好，请于工作日联系调解员处理您的借款纠纷案件。" * 4


class Smpp34Peer:
    """smpp34.Server on a loopback port in its own event loop; accepts every part and receipts it."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.submitted: list[Any] = []
        self.receipt_acks: list[bool] = []  # is_success of each deliver_sm_resp
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> Smpp34Peer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        assert self._ready.wait(5), "smpp34 server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _shutdown(self) -> None:
        self._serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._serving

    async def _serve(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving = task
        server = smpp34.Server(host="127.0.0.1", port=self.port, system_id="SMPP34")
        await server.start()
        self._ready.set()
        sessions: dict[str, Any] = {}
        try:
            while True:
                event = await server.next()
                if isinstance(event, smpp34.Esme):
                    sessions[event.session_id] = event
                elif isinstance(event, smpp34.SubmitSmEvent):
                    message_id = f"S34-{len(self.submitted)}"
                    self.submitted.append(event)
                    event.accept(message_id=message_id)
                    text = f"id:{message_id} sub:001 dlvrd:001 submit date:2507011000 done date:2507011001"
                    text += " stat:DELIVRD err:000"
                    answer = await sessions[event.session_id].deliver_sm(
                        event.source_addr, text.encode(), source_addr=event.destination_addr, esm_class=0x04
                    )
                    self.receipt_acks.append(answer.is_success)
        finally:
            await server.stop()


@pytest.fixture
def peer() -> Iterator[Smpp34Peer]:
    if smpp34 is None:
        if os.environ.get("CI"):
            pytest.fail("smpp34 is not installed — CI needs it (dev extra)", pytrace=False)
        pytest.skip("smpp34 is not installed")
    with Smpp34Peer() as running:
        yield running


def test_chinese_long_message_and_receipts_interoperate(peer: Smpp34Peer) -> None:
    receipts: list[DeliveryReceipt] = []
    connector = SmppConnector("127.0.0.1", peer.port, "esme", "secret", on_receipt=receipts.append)
    try:
        result = connector.send(SmsMessage(to="+8613812345678", text=CHINESE, idempotency_key="k"))
        deadline = time.monotonic() + 5
        while len(peer.receipt_acks) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        connector.close()
    assert peer.receipt_acks == [True, True]  # smpp34 saw both receipts acknowledged
    parts = peer.submitted
    assert len(parts) == 2 and all(p.data_coding == 0x08 and p.esm_class & 0x40 for p in parts)
    assert all(p.registered_delivery == 1 and p.destination_addr == "8613812345678" for p in parts)
    assert b"".join(p.short_message[6:] for p in parts).decode("utf-16-be") == CHINESE
    assert result.provider_message_ids == ("S34-0", "S34-1")
    assert sorted((r.provider_message_id, r.status) for r in receipts) == [
        ("S34-0", DeliveryStatus.DELIVERED),
        ("S34-1", DeliveryStatus.DELIVERED),
    ]
