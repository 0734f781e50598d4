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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Variant:
    """The code a server runs: this checkout, or another one (``--compare``) put first on PYTHONPATH."""

    label: str
    checkout: Path | None = None
    env: tuple[tuple[str, str], ...] = ()

    @property
    def cwd(self) -> Path:
        """Where its processes start: ``python -m`` puts the working directory first on sys.path,
        before PYTHONPATH, so a variant's code is imported only from its own checkout."""
        return self.checkout or Path(__file__).resolve().parents[1]

    def environ(self, url: str) -> dict[str, str]:
        env = {**os.environ, "CONTACTFIX_DATABASE_URL": url, **dict(self.env)}
        if self.checkout is not None:
            env["PYTHONPATH"] = str(self.checkout)
        return env


@contextmanager
def _server(url: str, workers: int, variant: Variant) -> Iterator[tuple[int, Any]]:
    """``contactfix serve`` of ``variant`` on a free port: the port and the server's psutil.Process."""
    import psutil

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "contactfix", "serve", "--host", HOST, "--port", str(port),
         "--workers", str(workers)],
        env=variant.environ(url), cwd=variant.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
        yield port, psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(30)


def _postgres_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends now connected to ``database`` (the server's pool, an
    upload's connection); backends that came and went in between are missed."""
    import psutil

    total = 0.0
    for each in psutil.process_iter(["cmdline"]):
        line = " ".join(each.info["cmdline"] or [])
        if line.startswith("postgres:") and f" {database} " in line:
            try:
                times = each.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


def _cpu_seconds(process: Any) -> float:
    """CPU seconds of ``process`` and its children (the workers; an upload's intake processes)."""
    import psutil

    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


Record = list[tuple[float, float, int]]


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str, reference: str
) -> int:
    request = (f"GET /api/v1/debtors/{urllib.parse.quote(reference)} HTTP/1.1\r\nHost: bench\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()  # fmt: skip
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    found = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
    await reader.readexactly(int(found.group(1)) if found else 0)
    return int(head.split(b" ", 2)[1])


async def _client(
    port: int,
    token: str,
    references: list[str],
    stop: threading.Event,
    record: Record,
    interval: float | None,
) -> None:
    """One keep-alive connection. Closed loop (``interval`` None): the next request as soon as the
    answer is in. Open loop: a request every ``interval`` seconds from a random phase, each latency
    counted from when it was due (a late answer delays the next request, and that delay is counted:
    no coordinated omission)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    rng = random.Random()
    due = time.perf_counter() + (rng.random() * interval if interval else 0.0)
    try:
        while not stop.is_set():
            if interval is not None:
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                started = due
                due += interval
            else:
                started = time.perf_counter()
            status = await _request(reader, writer, token, rng.choice(references))
            record.append((started, time.perf_counter() - started, status))
    finally:
        writer.close()


def _load(
    port: int, token: str, references: list[str], clients: int, stop: threading.Event, rate: float | None
) -> Record:
    record: Record = []
    interval = clients / rate if rate else None

    async def main() -> None:
        await asyncio.gather(
            *(_client(port, token, references, stop, record, interval) for _ in range(clients))
        )

    asyncio.run(main())
    return record


def _figures(record: Record, since: float, until: float) -> dict[str, float]:
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


@contextmanager
def _costs(server: Any, into: dict[str, float]) -> Iterator[None]:
    """Into ``into``: the server's CPU seconds (its workers and children) and the machine's busy cores
    over the block, and the load average at its start."""
    cpu, (busy, total), started = _cpu_seconds(server), _machine_busy(), time.perf_counter()
    database = server.environ().get("CONTACTFIX_DATABASE_URL", "").rpartition("/")[2]
    pg = _postgres_cpu(database)
    into["load"] = os.getloadavg()[0]
    yield
    seconds = time.perf_counter() - started
    busy2, total2 = _machine_busy()
    into["server_cpu"] = _cpu_seconds(server) - cpu
    into["pg_cpu"] = _postgres_cpu(database) - pg
    into["busy_cores"] = (busy2 - busy) / (total2 - total) * (os.cpu_count() or 1) if total2 > total else 0.0
    into["seconds"] = seconds


def _measure(
    port: int,
    server: Any,
    token: str,
    references: list[str],
    clients: int,
    seconds: float,
    rate: float | None,
) -> dict[str, float]:
    stop = threading.Event()
    timer = threading.Timer(seconds + 1, stop.set)
    costs: dict[str, float] = {}
    with _costs(server, costs):
        timer.start()
        started = time.perf_counter()
        record = _load(port, token, references, clients, stop, rate)
    figures = _figures(record, started + 1, started + 1 + seconds)  # the first second warms up
    count = max(1, len(record))
    return {
        **figures,
        **costs,
        "cpu_ms": 1000 * costs["server_cpu"] / count,
        "pg_ms": 1000 * costs["pg_cpu"] / count,
    }


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
    port: int, server: Any, reader_token: str, uploader_token: str, references: list[str], clients: int,
    path: Path, rate: float | None,
) -> tuple[dict[str, float], dict[str, Any]]:  # fmt: skip
    stop = threading.Event()
    answer: dict[str, Any] = {}

    def upload() -> None:
        try:
            _upload(port, uploader_token, path, answer)
        finally:
            answer["finished"] = time.perf_counter()
            stop.set()

    uploading = threading.Thread(target=upload)
    costs: dict[str, float] = {}
    with _costs(server, costs):
        started = time.perf_counter()
        uploading.start()
        record = _load(port, reader_token, references, clients, stop, rate)
        uploading.join()
    return {**_figures(record, started + 1, answer["finished"]), **costs}, answer


def _rows_per_second(answer: dict[str, Any]) -> float:
    body = answer.get("body", {})
    return float(body.get("rows", 0)) / answer["seconds"] if answer.get("status") == 201 else 0.0


def _cli_submit(url: str, path: Path, org: str, variant: Variant) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "contactfix", "submit", str(path), "--org", org, "--json"],
        env=variant.environ(url), cwd=variant.cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"contactfix submit failed: {done.stderr[-2000:]}")
    seconds = time.perf_counter() - started
    return float(json.loads(done.stdout.splitlines()[-1])["rows"]) / seconds


def _run_variant(
    url: str, variant: Variant, args: argparse.Namespace, references: list[str], upload: Path, round_: int
) -> dict[str, Any]:
    """Every measurement of one variant: GETs alone and during an upload (closed loop, then at the
    offered rate), the upload alone, and ``contactfix submit`` of the same file."""
    tag = f"{variant.label}-{round_}"
    reader = _token(url, f"reader-{tag}", "示例银行")
    uploaders = {
        kind: _token(url, f"up-{kind}-{tag}", f"bench-{kind}-{tag}") for kind in ("closed", "open", "alone")
    }
    out: dict[str, Any] = {"variant": variant.label, "round": round_}
    with _server(url, args.workers, variant) as (port, server):
        for mode, rate in (("closed", None), ("open", args.rate)):
            out[f"{mode}_alone"] = _measure(
                port, server, reader, references, args.clients, args.seconds, rate
            )
            print(variant.label, _line(f"{mode}, alone", out[f"{mode}_alone"]), flush=True)
            during, answer = _measure_during_upload(
                port, server, reader, uploaders[mode], references, args.clients, upload, rate
            )
            out[f"{mode}_during"], out[f"{mode}_upload"] = during, _rows_per_second(answer)
            out[f"{mode}_upload_seconds"], out[f"{mode}_upload_status"] = (
                answer["seconds"],
                answer.get("status"),
            )
            print(variant.label, _line(f"{mode}, during the upload", during),
                  f"upload {out[f'{mode}_upload']:,.0f} rows/s", flush=True)  # fmt: skip
        alone: dict[str, Any] = {}
        _upload(port, uploaders["alone"], upload, alone)
        out["upload_alone"] = _rows_per_second(alone)
    out["submit"] = _cli_submit(url, upload, f"bench-cli-{tag}", variant)
    rates = f"upload alone {out['upload_alone']:,.0f} rows/s, submit {out['submit']:,.0f} rows/s"
    print(variant.label, rates, flush=True)
    return out


def _ms(figures: dict[str, float], key: str) -> str:
    # Not per request during an upload: its intake's CPU is in the same processes.
    return f"{figures[key]:.2f}" if key in figures else "–"


def _line(label: str, f: dict[str, float]) -> str:
    return (f"| {label} | {f['requests']:,.0f} | {f['rps']:,.0f} | {f['p50_ms']:.1f} | {f['p99_ms']:.1f} | "
            f"{f['errors']:.0f} | {_ms(f, 'cpu_ms')} | {_ms(f, 'pg_ms')} | "
            f"{f.get('busy_cores', 0):.2f} | {f.get('load', 0):.1f} |")  # fmt: skip


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


_HEADER = [
    "| variant, load | requests | requests/s | p50 ms | p99 ms | non-200 | server CPU ms/req "
    "| PostgreSQL CPU ms/req | busy cores | load avg |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]


def _table(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = list(_HEADER)
    for r in results:
        name = f"{r['variant']} (round {r['round']})"
        for mode, what in (("closed", "closed loop"), ("open", f"offered {args.rate:g}/s")):
            lines.append(_line(f"{name}, {what}, alone", r[f"{mode}_alone"]))
            seconds = r[f"{mode}_upload_seconds"]
            lines.append(_line(f"{name}, {what}, during the upload ({seconds:.0f} s)", r[f"{mode}_during"]))
    lines += ["", "| variant | upload under closed-loop GETs | under offered GETs | upload alone | "
              "`contactfix submit` | rows/s of submit: closed / offered / alone |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        submit = r["submit"] or 1.0
        lines.append(
            f"| {r['variant']} (round {r['round']}) | {r['closed_upload']:,.0f} | {r['open_upload']:,.0f} | "
            f"{r['upload_alone']:,.0f} | {r['submit']:,.0f} | {r['closed_upload'] / submit:.2f} / "
            f"{r['open_upload'] / submit:.2f} / {r['upload_alone'] / submit:.2f} |"
        )  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    """Build the world, serve it, measure, print and record. 0 when every step finished."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=3000)
    parser.add_argument("--upload-rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=300.0, help="the offered rate of the open-loop runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--compare", type=Path, help="a checkout of the code before, measured in the same run"
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternate the variants this many times")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for this checkout's server")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--no-record", action="store_true", help="print, do not write bench/RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    from contactfix.db.engine import throwaway_database

    machine = machine_summary()
    # Every process of the deployment (commands, server, child intake) shares one data key.
    os.environ.setdefault("CONTACTFIX_DATA_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    this = Variant("after", None, tuple(tuple(pair.split("=", 1)) for pair in args.env))  # type: ignore[misc]
    variants = [Variant("before", args.compare.resolve()), this] if args.compare else [this]
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="api_bench_") as name,
        throwaway_database(args.pg_admin_url, "contactfix_api_bench") as url,
    ):
        folder = Path(name)
        started = time.perf_counter()
        references = _world(url, folder, args.debtors)
        upload = folder / "upload.csv"
        generate(upload, args.upload_rows, seed=20261207)
        print(f"world of {len(references):,} debtors and a {args.upload_rows:,}-row file in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for round_ in range(1, args.rounds + 1):
            order = variants if round_ % 2 else variants[::-1]  # ABBA…: neither always goes first
            for variant in order:
                results.append(_run_variant(url, variant, args, references, upload, round_))
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1))
    command = (f"python -m bench.api_bench --debtors {args.debtors} --upload-rows {args.upload_rows} "
               f"--clients {args.clients} --seconds {args.seconds:g} --rate {args.rate:g} "
               f"--workers {args.workers}"
               + (f" --compare CHECKOUT_OF_MAIN --rounds {args.rounds}" if args.compare else ""))  # fmt: skip
    lines = [
        f"`{command}`", "",
        f"{machine}. Server, PostgreSQL and the load generator share these CPUs.", "",
        f"`GET /api/v1/debtors/{{reference}}` ({args.clients} keep-alive clients, a random debtor of "
        f"{len(references):,} each time, each answer audited); `contactfix serve --workers {args.workers}`. "
        f"Closed loop: each client sends its next request when the answer is in (the most the server "
        f"serves). Offered {args.rate:g}/s: the clients together send {args.rate:g} requests a second on a "
        f"schedule; a latency counts from when the request was due. Server CPU: its processes' CPU time "
        f"per request (uploads included during one); busy cores: the whole machine, other work included.", "",
        *_table(results, args),
    ]  # fmt: skip
    print("\n".join(lines))
    if not args.no_record:
        write_results(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
