"""A minimal SMPP 3.4 SMSC for tests, listening on 127.0.0.1 only, built on smpplib's PDU codec.

It does what the connector tests need and no more: checks bind_transceiver credentials, answers
submit_sm with a message id (recording every part as received), answers enquire_link, sends
delivery receipts (deliver_sm, esm_class 0x04, the Appendix B text, optionally with the TLVs) when a
test asks, and can drop every connection abruptly or drop the connection instead of answering the
next submit_sm. (The smpp34 package's Python server accepts every bind and cannot drop a
connection, so it cannot play the refusals and failures these tests need.)
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import smpplib.consts as C
import smpplib.smpp

HOST = "127.0.0.1"


class _Sequence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sequence = 0

    def next_sequence(self) -> int:
        with self._lock:
            self.sequence += 1
            return self.sequence


@dataclass
class Submitted:
    """One submit_sm as the SMSC received it."""

    destination_addr: str
    source_addr: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    short_message: bytes
    message_id: str


@dataclass
class _Session:
    sock: socket.socket
    bound: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, pdu: object) -> None:
        with self.lock:
            self.sock.sendall(pdu.generate())  # type: ignore[attr-defined]

    def drop(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class SmppTestServer:
    """Start with ``with SmppTestServer() as smsc:``; ``smsc.port`` is the ephemeral loopback port."""

    def __init__(self, system_id: str = "esme", password: str = "secret") -> None:
        self.accounts = {system_id: password}
        self.submitted: list[Submitted] = []
        self.enquire_links = 0
        self.binds = 0
        self.receipt_answers: list[int] = []  # command_status of each deliver_sm_resp
        self.drop_on_next_submit = False
        self.refuse_next_submit: int | None = None  # a command_status to answer the next submit_sm with
        self.answer_enquire_link = True
        self._ids = itertools.count(0x1A2B3C00)
        self._seq = _Sequence()
        self._sessions: list[_Session] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="smsc-accept", daemon=True)

    def __enter__(self) -> SmppTestServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        # close() alone does not wake a thread blocked in accept() on Linux; shutdown() does. The
        # thread must end: code under test (intake) declines to fork while other threads run.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.drop_all()
        self._acceptor.join(timeout=5)

    def drop_all(self) -> None:
        """Close every client connection at once, without unbind (a crash or a network cut)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.drop()

    def send_receipt(
        self, submitted: Submitted, stat: str = "DELIVRD", err: str = "000", tlvs: bool = False
    ) -> None:
        """Deliver a receipt for ``submitted`` to the most recent bound session."""
        text = (
            f"id:{submitted.message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:2507011000 done date:2507011001 stat:{stat} err:{err} text:hello"
        )
        extra = {"receipted_message_id": submitted.message_id, "message_state": 2} if tlvs else {}
        pdu = smpplib.smpp.make_pdu(
            "deliver_sm",
            client=self._seq,
            service_type="",
            source_addr_ton=C.SMPP_TON_INTL,
            source_addr_npi=C.SMPP_NPI_ISDN,
            source_addr=submitted.destination_addr,
            dest_addr_ton=C.SMPP_TON_UNK,
            dest_addr_npi=C.SMPP_NPI_ISDN,
            destination_addr=submitted.source_addr,
            esm_class=0x04,
            data_coding=0,
            short_message=text.encode("ascii"),
            **extra,
        )
        with self._lock:
            session = next((s for s in reversed(self._sessions) if s.bound), None)
        assert session is not None, "no bound session to deliver the receipt to"
        session.send(pdu)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the SMSC did not see what the test waited for")
            time.sleep(0.01)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            session = _Session(sock)
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=self._serve, args=(session,), daemon=True).start()

    def _serve(self, session: _Session) -> None:
        try:
            while True:
                header = _read_exact(session.sock, 4)
                (length,) = struct.unpack(">L", header)
                raw = header + _read_exact(session.sock, length - 4)
                pdu = smpplib.smpp.parse_pdu(raw, client=self._seq, allow_unknown_opt_params=True)
                if not self._handle(session, pdu):
                    break
        except (OSError, ConnectionError):
            pass
        finally:
            with self._lock:
                if session in self._sessions:
                    self._sessions.remove(session)
            session.drop()

    def _handle(self, session: _Session, pdu: object) -> bool:
        command = pdu.command  # type: ignore[attr-defined]
        if command == "bind_transceiver":
            self.binds += 1
            system_id = pdu.system_id.decode()  # type: ignore[attr-defined]
            password = pdu.password.decode()  # type: ignore[attr-defined]
            ok = self.accounts.get(system_id) == password
            status = C.SMPP_ESME_ROK if ok else C.SMPP_ESME_RINVPASWD
            self._reply(session, pdu, "bind_transceiver_resp", status, system_id="TESTSMSC")
            session.bound = ok
            return ok
        if command == "submit_sm":
            return self._submit(session, pdu)
        if command == "enquire_link":
            self.enquire_links += 1
            if self.answer_enquire_link:
                self._reply(session, pdu, "enquire_link_resp")
        elif command == "deliver_sm_resp":
            self.receipt_answers.append(pdu.status)  # type: ignore[attr-defined]
        elif command == "unbind":
            self._reply(session, pdu, "unbind_resp")
            return False
        elif command != "enquire_link_resp":
            self._reply(session, pdu, "generic_nack", C.SMPP_ESME_RINVCMDID)
        return True

    def _submit(self, session: _Session, pdu: object) -> bool:
        if not session.bound:
            self._reply(session, pdu, "submit_sm_resp", C.SMPP_ESME_RINVBNDSTS, message_id="")
            return True
        if self.drop_on_next_submit:
            self.drop_on_next_submit = False
            return False  # the connection closes with the part unanswered
        if self.refuse_next_submit is not None:
            status, self.refuse_next_submit = self.refuse_next_submit, None
            self._reply(session, pdu, "submit_sm_resp", status, message_id="")
            return True
        message_id = f"{next(self._ids):X}"
        self.submitted.append(
            Submitted(
                destination_addr=pdu.destination_addr.decode(),  # type: ignore[attr-defined]
                source_addr=pdu.source_addr.decode(),  # type: ignore[attr-defined]
                data_coding=pdu.data_coding,  # type: ignore[attr-defined]
                esm_class=pdu.esm_class,  # type: ignore[attr-defined]
                registered_delivery=pdu.registered_delivery,  # type: ignore[attr-defined]
                short_message=pdu.short_message,  # type: ignore[attr-defined]
                message_id=message_id,
            )
        )
        self._reply(session, pdu, "submit_sm_resp", message_id=message_id)
        return True

    def _reply(
        self,
        session: _Session,
        request: object,
        command: str,
        status: int = C.SMPP_ESME_ROK,
        **fields: object,
    ) -> None:
        response = smpplib.smpp.make_pdu(command, client=self._seq, status=status, **fields)
        response.sequence = request.sequence  # type: ignore[attr-defined]
        session.send(response)


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise ConnectionError("peer closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
