"""API v1 under load: ``GET /debtors/{reference}`` from concurrent clients while a large batch uploads.

``python -m bench.api_bench [--debtors 3000] [--upload-rows 100000] [--clients 32] [--seconds 20]``

On a throwaway PostgreSQL database: a sample world (``contactfix sample``, submit, import-court,
reconcile) gives a bank debtors with ranked contacts; ``contactfix serve --workers W`` runs the API.
Then, against the server over loopback:

1. ``GET /debtors/{reference}`` for random references of the bank, from ``--clients`` concurrent
   keep-alive connections, for ``--seconds`` (the baseline);
2. the same, while another bank uploads a ``--upload-rows`` batch with ``POST /submissions`` (the
   latencies counted are those of requests started before the upload's answer);
3. the same file uploaded alone into another bank, and ``contactfix submit`` of it into a third,
   alone: the rows/s the upload under load is compared with.

Requests/s, p50/p99 latency and the upload's rows/s go under "## API" in bench/RESULTS.md with the
machine. The load generator is a minimal asyncio HTTP/1.1 client (keep-alive, no parsing beyond the
status line and Content-Length) so that it takes as little of the shared CPUs as possible; it runs on
the same machine as the server, as does PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.intake_bench import generate
from bench.machine import machine_summary

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## API"
PG_ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"
CONTACTFIX = str(Path(sys.executable).with_name("contactfix"))
HOST = "127.0.0.1"


def _run(url: str, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "CONTACTFIX_DATABASE_URL": url}
    done = subprocess.run(
        [CONTACTFIX, *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"contactfix {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done.stdout


def _world(url: str, folder: Path, debtors: int) -> list[str]:
    """Debtors of bank 示例银行 with ranked contacts; their references."""
    _run(url, "db", "upgrade")
    _run(url, "sample", "--debtors", str(debtors), "--out", str(folder / "world"), "--seed", "7")
    _run(url, "submit", str(folder / "world" / "bank.csv"), "--org", "示例银行", "--json")
    _run(url, "import-court", str(folder / "world" / "court.csv"), "--json")
    _run(url, "reconcile", "--full", "--json")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        references = [row[0] for row in connection.execute(text("SELECT reference FROM debtors"))]
    engine.dispose()
    return references


def _token(url: str, login: str, org: str) -> str:
    _run(url, "orgs", "add", org, "--kind", "bank")
    body = json.loads(_run(url, "users", "add", login, "--org", org, "--role", "bank", "--json"))
    return str(body["token"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(url: str, workers: int) -> Iterator[int]:
    port = _free_port()
    env = {**os.environ, "CONTACTFIX_DATABASE_URL": url}
    server = subprocess.Popen(
        [CONTACTFIX, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=0.5) as probe:
                    probe.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if b" 200 " in probe.recv(200):
                        break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise SystemExit("the API did not start")
        time.sleep(2)  # every worker up, not only the first
        yield port
    finally:
        server.terminate()
        server.wait(30)


async def _client(
    port: int,
    token: str,
    references: list[str],
    stop: threading.Event,
    record: list[tuple[float, float, int]],
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    rng = random.Random()
    try:
        while not stop.is_set():
            reference = urllib.parse.quote(rng.choice(references))
            request = (f"GET /api/v1/debtors/{reference} HTTP/1.1\r\nHost: bench\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n").encode()  # fmt: skip
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            found = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(found.group(1)) if found else 0)
            record.append((started, time.perf_counter() - started, int(head.split(b" ", 2)[1])))
    finally:
        writer.close()


def _load(port: int, token: str, references: list[str], clients: int, stop: threading.Event) -> list[Any]:
    record: list[tuple[float, float, int]] = []

    async def main() -> None:
        await asyncio.gather(*(_client(port, token, references, stop, record) for _ in range(clients)))

    asyncio.run(main())
    return record


def _figures(record: list[tuple[float, float, int]], since: float, until: float) -> dict[str, float]:
    window = [(at, took, status) for at, took, status in record if since <= at <= until]
    latencies = sorted(took for _, took, _ in window)
    if not latencies:
        return {"requests": 0, "rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": 0}
    return {
        "requests": len(latencies),
        "rps": len(latencies) / (until - since),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": sum(1 for _, _, status in window if status != 200),
    }


def _measure(port: int, token: str, references: list[str], clients: int, seconds: float) -> dict[str, float]:
    stop = threading.Event()
    timer = threading.Timer(seconds + 1, stop.set)
    timer.start()
    started = time.perf_counter()
    record = _load(port, token, references, clients, stop)
    return _figures(record, started + 1, started + 1 + seconds)  # the first second warms up


def _upload(port: int, token: str, path: Path, answer: dict[str, Any]) -> None:
    import httpx

    started = time.perf_counter()
    with path.open("rb") as handle:
        response = httpx.post(
            f"http://{HOST}:{port}/api/v1/submissions", headers={"Authorization": f"Bearer {token}"},
            files={"file": (path.name, handle, "text/csv")}, timeout=1800,
        )  # fmt: skip
    answer.update(seconds=time.perf_counter() - started, status=response.status_code, body=response.json())


def _measure_during_upload(
    port: int, reader_token: str, uploader_token: str, references: list[str], clients: int, path: Path
) -> tuple[dict[str, float], dict[str, Any]]:
    stop = threading.Event()
    answer: dict[str, Any] = {}

    def upload() -> None:
        try:
            _upload(port, uploader_token, path, answer)
        finally:
            answer["finished"] = time.perf_counter()
            stop.set()

    uploading = threading.Thread(target=upload)
    started = time.perf_counter()
    uploading.start()
    record = _load(port, reader_token, references, clients, stop)
    uploading.join()
    return _figures(record, started + 1, answer["finished"]), answer


def _rows_per_second(answer: dict[str, Any]) -> float:
    body = answer.get("body", {})
    return float(body.get("rows", 0)) / answer["seconds"] if answer.get("status") == 201 else 0.0


def _cli_submit(url: str, path: Path) -> float:
    started = time.perf_counter()
    receipt = json.loads(_run(url, "submit", str(path), "--org", "bench-cli", "--json").splitlines()[-1])
    seconds = time.perf_counter() - started
    return float(receipt["rows"]) / seconds


def _line(label: str, f: dict[str, float]) -> str:
    return (f"| {label} | {f['requests']:,.0f} | {f['rps']:,.0f} | {f['p50_ms']:.1f} | {f['p99_ms']:.1f} | "
            f"{f['errors']:.0f} |")  # fmt: skip


def write_results(lines: list[str]) -> None:
    """Replace the "## API" section of bench/RESULTS.md with ``lines``; its "### Notes" block (by hand)
    and the other sections stay."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    found = pattern.search(text)
    notes = re.search(r"^### Notes\n.*", found.group(0), re.MULTILINE | re.DOTALL) if found else None
    kept = ["", notes.group(0).rstrip()] if notes else []  # written by hand: kept across runs
    section = "\n".join([SECTION, "", *lines, *kept]).rstrip() + "\n"
    text = pattern.sub(lambda _: section + "\n", text) if found else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Build the world, serve it, measure, print and record. 0 when every step finished."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=3000)
    parser.add_argument("--upload-rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--no-record", action="store_true", help="print, do not write bench/RESULTS.md")
    args = parser.parse_args(argv)
    from contactfix.db.engine import throwaway_database

    machine = machine_summary()
    # Every process of the deployment (commands, server, child intake) shares one data key.
    os.environ.setdefault("CONTACTFIX_DATA_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    with (
        tempfile.TemporaryDirectory(prefix="api_bench_") as name,
        throwaway_database(args.pg_admin_url, "contactfix_api_bench") as url,
    ):
        folder = Path(name)
        started = time.perf_counter()
        references = _world(url, folder, args.debtors)
        upload = folder / "upload.csv"
        generate(upload, args.upload_rows, seed=20261207)
        reader, uploader = _token(url, "reader", "示例银行"), _token(url, "uploader", "bench-api")
        lone_uploader = _token(url, "lone-uploader", "bench-api-alone")
        print(f"world of {len(references):,} debtors and a {args.upload_rows:,}-row file in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        with _server(url, args.workers) as port:
            alone = _measure(port, reader, references, args.clients, args.seconds)
            print(_line("alone", alone), flush=True)
            during, answer = _measure_during_upload(port, reader, uploader, references, args.clients, upload)
            print(_line("during the upload", during), flush=True)
            alone_answer: dict[str, Any] = {}
            _upload(port, lone_uploader, upload, alone_answer)  # the same file, another bank, no GETs
        api_rows, lone_rows = _rows_per_second(answer), _rows_per_second(alone_answer)
        cli_rows = _cli_submit(url, upload)
    status = answer.get("status")
    print(f"upload: HTTP {status}, {api_rows:,.0f} rows/s under the GETs, {lone_rows:,.0f} rows/s alone; "
          f"contactfix submit: {cli_rows:,.0f} rows/s")  # fmt: skip
    command = (f"python -m bench.api_bench --debtors {args.debtors} --upload-rows {args.upload_rows} "
               f"--clients {args.clients} --seconds {args.seconds:g} --workers {args.workers}")  # fmt: skip
    lines = [
        f"`{command}`", "",
        f"{machine}. Server, PostgreSQL and the load generator share these CPUs.", "",
        f"`GET /api/v1/debtors/{{reference}}` ({args.clients} keep-alive clients, a random debtor of "
        f"{len(references):,} each time, each answer audited); "
        f"`contactfix serve --workers {args.workers}`.", "",
        "| load | requests | requests/s | p50 ms | p99 ms | non-200 |", "|---|---:|---:|---:|---:|---:|",
        _line(f"alone, {args.seconds:g} s", alone),
        _line(f"while {args.upload_rows:,} rows upload ({answer['seconds']:.0f} s)", during), "",
        "| the same file | rows/s | of `contactfix submit` |",
        "|---|---:|---:|",
        f"| `POST /api/v1/submissions` under the GETs above (HTTP {answer.get('status')}) | "
        f"{api_rows:,.0f} | {api_rows / cli_rows if cli_rows else 0:.2f} |",
        f"| `POST /api/v1/submissions` alone, into another bank | {lone_rows:,.0f} | "
        f"{lone_rows / cli_rows if cli_rows else 0:.2f} |",
        f"| `contactfix submit`, alone, into a third bank | {cli_rows:,.0f} | 1.00 |",
    ]  # fmt: skip
    if not args.no_record:
        write_results(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
