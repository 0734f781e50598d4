"""Loopback HTTP peers for connector tests (127.0.0.1 only): a scripted peer and a CAIH-shaped peer.

``CaihPeer`` answers the way the 验真平台 documentation describes (see connectors/repair/http.py): it
checks the signature, keeps the uploaded batches, settles them when the test says the carrier is done,
and binds virtual numbers for registered callers during 08:00–21:30 Beijing time (judged by the
request's own timestamp). ``script`` queues a canned answer (status, body, delay) for the next
request: transport-level trouble, and the answers for tests of the generic HTTP base.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback_http import serve_loopback


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0


@dataclass
class CaihPeer:
    userkey: str = "6be014da2c1f6b4140e2a12984960376"
    appid: str = "f790e630a256667a9b25a433bf40481b"
    secretkey: str = "g8imy09du0y893uv03mu580c4mu5c341"
    repairable: set[str] = field(default_factory=set)  # id hashes the "carrier" finds
    registered_callers: set[str] = field(default_factory=set)  # national numbers
    due_date: str = "2025-07-31"
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripted: list[Scripted] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(284251611566600000))
    url: str = ""

    def script(self, status: int = 200, body: bytes = b"", delay: float = 0.0) -> None:
        self.scripted.append(Scripted(status, body, delay))

    def settle(self, batch_id: str) -> None:
        self.batches[batch_id]["settled"] = True

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.received]

    def answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.received.append((operation, request))
        auth = request.get("authinfo") or {}
        for number, key in enumerate(("userkey", "appid", "timestamp", "sign"), start=102):
            if not auth.get(key):
                return {"code": str(number), "message": f"{key} 为空"}
        expected = hashlib.md5(
            (self.secretkey + auth["userkey"] + auth["appid"] + auth["timestamp"]).encode()
        ).hexdigest()
        if auth["userkey"] != self.userkey or auth["sign"] != expected:
            return {"code": "205", "message": "认证签名格式错误"}  # nearest documented code
        handler = getattr(self, "_" + operation, None)
        if handler is None:
            return {"code": "201", "message": "请求内容格式错误"}
        return dict(handler(request["param"], auth["timestamp"]))

    def _reply(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "code": "000",
            "message": "请求成功",
            "msgid": str(next(self._ids)),
            "billing": "1",
            "data": data,
        }

    def _lost_repair_upload_data(self, param: dict[str, Any], _ts: str) -> dict[str, Any]:
        items = param.get("toRepairDataArray") or []
        if not items or len(items) > 1000:
            return {"code": "201", "message": "请求内容格式错误"}
        answer = self._reply({"state": "0", "desc": "上传成功"})
        self.batches[answer["msgid"]] = {"items": items, "settled": False}
        return answer

    def _lost_repair_matching_result(self, param: dict[str, Any], _ts: str) -> dict[str, Any]:
        batch = self.batches.get(param.get("uploadDataMsgid", ""))
        if batch is None:
            return {"code": "201", "message": "请求内容格式错误"}
        if not batch["settled"]:
            return self._reply({"state": "1", "desc": "修复中", "uploadDataMsgid": param["uploadDataMsgid"]})
        codes = [item["authCode"] for item in batch["items"] if item["idcode"] in self.repairable]
        data = {
            "state": "2",
            "desc": "修复完成",
            "uploadDataMsgid": param["uploadDataMsgid"],
            "toRepairCount": len(batch["items"]),
            "successCount": len(codes),
            "successTime": "2025-07-01 10:00:00",
            "dueDate": self.due_date,
            "successAuthCodes": codes,
        }
        return self._reply(data)

    def _lost_repair_bind_virtual_number(self, param: dict[str, Any], timestamp: str) -> dict[str, Any]:
        local = datetime.strptime(timestamp, "%Y%m%d%H%M%S")
        if not ("080000" <= local.strftime("%H%M%S") <= "213000") or local.date().isoformat() > self.due_date:
            return self._reply({"state": "4", "desc": "不在可请求时间"})
        if param.get("callNumber") not in self.registered_callers:
            return self._reply({"state": "3", "desc": "主叫号码未报备"})
        batch = self.batches.get(param.get("uploadDataMsgid", ""), {"items": []})
        repaired = {item["authCode"] for item in batch["items"] if item["idcode"] in self.repairable}
        if param.get("authCode") not in repaired:
            return self._reply({"state": "5", "desc": "授权码未修复成功"})
        return self._reply({"state": "0", "desc": "绑定成功", "virtualNumber": "17100001111"})


class _Handler(BaseHTTPRequestHandler):
    peer: CaihPeer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.server.peer.scripted:  # type: ignore[attr-defined]
            canned = self.server.peer.scripted.pop(0)  # type: ignore[attr-defined]
            time.sleep(canned.delay)
            self._send(canned.status, canned.body)
            return
        operation = self.path.rstrip("/").rsplit("/", 1)[-1]
        answer = self.server.peer.answer(operation, json.loads(raw))  # type: ignore[attr-defined]
        self._send(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"))

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(peer: CaihPeer) -> Iterator[CaihPeer]:
    """Run ``peer`` on an ephemeral loopback port for the duration of the block."""
    with serve_loopback(_Handler, peer) as url:
        peer.url = f"{url}/verify/api"
        yield peer
