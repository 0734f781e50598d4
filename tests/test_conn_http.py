"""HttpConnectorBase against a real loopback HTTP server: the fixed sequence and the error mapping."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from conn_http_peers import CaihPeer, serve

from connectors import DeliveryStatus, PermanentError, RetryableError, SendResult, SmsMessage
from connectors.base import SmsConnector
from connectors.http import HttpRequest, HttpResponse, HttpSmsConnectorBase


class TinySms(HttpSmsConnectorBase):
    """A minimal provider: POST {"to","text"} → {"code": "OK", "ids": [...]} or {"code": <refusal>}."""

    provider = "tiny"

    def build_payload(self, message: SmsMessage) -> HttpRequest:
        body = json.dumps({"to": message.to, "text": message.text}).encode()
        return HttpRequest("POST", "send", body, {"Content-Type": "application/json"})

    def parse_status(self, response: HttpResponse, message: SmsMessage) -> SendResult:
        answer = response.json()
        if answer["code"] != "OK":
            raise self.provider_error(answer["code"], answer.get("message", ""))
        return SendResult(tuple(answer["ids"]), DeliveryStatus.QUEUED, self.provider)

    def error_code(self, response: HttpResponse) -> tuple[str, str] | None:
        answer = response.json()
        return (answer["code"], answer.get("message", "")) if isinstance(answer, dict) else None


MESSAGE = SmsMessage(to="+8613812345678", text="你好", idempotency_key="k1")


@pytest.fixture
def peer() -> Iterator[CaihPeer]:
    with serve(CaihPeer()) as running:
        yield running


def connector(peer: CaihPeer, **options: object) -> TinySms:
    return TinySms(peer.url, timeout=float(options.pop("timeout", 2.0)), **options)  # type: ignore[arg-type]


def test_fixed_sequence_posts_the_payload_and_maps_the_answer(peer: CaihPeer) -> None:
    peer.script(200, b'{"code": "OK", "ids": ["m1", "m2"]}')
    sms = connector(peer)
    assert isinstance(sms, SmsConnector)
    assert sms.send(MESSAGE) == SendResult(("m1", "m2"), DeliveryStatus.QUEUED, "tiny")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_throttling_and_server_errors_are_retryable(peer: CaihPeer, status: int) -> None:
    peer.script(status, b"busy")
    with pytest.raises(RetryableError, match=str(status)):
        connector(peer).send(MESSAGE)


def test_client_error_without_provider_code_is_permanent(peer: CaihPeer) -> None:
    peer.script(404, b"<html>not found</html>")
    with pytest.raises(PermanentError, match="404"):
        connector(peer).send(MESSAGE)


def test_provider_code_decides_and_echoed_numbers_are_masked(peer: CaihPeer) -> None:
    refusal = b'{"code": "isv.MOBILE_NUMBER_ILLEGAL", "message": "bad number 8613812345678"}'
    peer.script(400, refusal)
    with pytest.raises(PermanentError) as error:
        connector(peer).send(MESSAGE)
    assert "MOBILE_NUMBER_ILLEGAL" in str(error.value) and "13812345678" not in str(error.value)
    peer.script(400, b'{"code": "Throttling.User"}')
    with pytest.raises(RetryableError):
        connector(peer, retryable_codes=["Throttling.User"]).send(MESSAGE)
    peer.script(200, b'{"code": "isv.BLACK_KEY_CONTROL_LIMIT"}')
    with pytest.raises(PermanentError, match="BLACK_KEY"):
        connector(peer).send(MESSAGE)


def test_unreadable_answers_leave_the_outcome_unknown(peer: CaihPeer) -> None:
    peer.script(200, b"<html>proxy error</html>")
    with pytest.raises(RetryableError, match="not JSON"):
        connector(peer).send(MESSAGE)
    peer.script(200, b'{"code": "OK"}')  # ids missing
    with pytest.raises(RetryableError, match="unexpected shape"):
        connector(peer).send(MESSAGE)


def test_timeout_is_retryable(peer: CaihPeer) -> None:
    peer.script(200, b'{"code": "OK", "ids": ["late"]}', delay=1.5)
    with pytest.raises(RetryableError, match="could not be reached"):
        connector(peer, timeout=0.3).send(MESSAGE)


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableError):
        TinySms(f"http://127.0.0.1:{port}", timeout=1.0).send(MESSAGE)
