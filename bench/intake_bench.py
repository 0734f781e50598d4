"""Intake throughput and memory: N synthetic bank rows into SQLite and into a throwaway PostgreSQL database.

``python -m bench.intake_bench [--rows N] [--backends sqlite,postgresql] [--batch-size B] [--quick]``
generates the rows itself (deterministic for ``--seed``: Chinese names, valid resident IDs with some
bad check digits, masked and 15-digit ones, phones in mixed formats, amounts and dates as banks write
them), runs ``submit_bank_batch`` in a child process per backend, and records rows/s, CPU per row of each
process and the child's peak RSS with the machine (CPUs, CPU model, load, date) under "## Intake" in
bench/RESULTS.md: one block per command line, so a 1,000,000-row run keeps the 100,000-row table
beside it; a "### Notes" block written by hand is kept too.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine_summary

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Intake"
PG_ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"
HEADER = [
    "客户号",
    "姓名",
    "证件号码",
    "手机号",
    "联系电话",
    "户籍地址",
    "出生日期",
    "性别",
    "欠款金额(元)",
    "合同编号",
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰华建国玉梅红燕飞鹏辉宇浩凯晨欣怡婷雪琳晶慧佳颖丹倩文斌"
)
COUNTIES = (
    "110101",
    "310104",
    "350102",
    "350103",
    "440106",
    "330106",
    "510104",
    "420102",
    "370102",
    "320102",
)
STREETS = ("人民路", "解放路", "中山路", "建设路", "和平街", "五一路", "八一路", "长安街", "江滨路", "工业路")
# Mobile prefixes in use (a uniform draw over 1[3-9]x would hit unallocated ones).
MOBILE_PREFIXES = tuple(
    f"{head}{tail}"
    for head, tails in (("13", "0123456789"), ("14", "7"), ("15", "012356789"), ("16", "6"), ("17", "5678"),
                        ("18", "0123456789"), ("19", "13589"))
    for tail in tails
)  # fmt: skip
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _resident_id(rng: random.Random) -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
    first17 = f"{rng.choice(COUNTIES)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + _check_digit(first17)


def _id_cell(rng: random.Random) -> str:
    number = _resident_id(rng)
    roll = rng.random()
    if roll < 0.02:  # a typo: the check digit no longer matches
        return number[:17] + ("0" if number[17] != "0" else "1")
    if roll < 0.05:
        return number[:6] + "********" + number[14:]
    if roll < 0.06 and number[6:8] == "19":
        return number[:6] + number[8:17]  # the 15-digit form
    return number


def _mobile(rng: random.Random, blocks: list[str]) -> str:
    if blocks:
        digits = f"{rng.choice(blocks)}{rng.randrange(10**4):04d}"
    else:
        digits = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
    style = rng.random()
    if style < 0.6:
        return digits
    if style < 0.8:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return f"+86-{digits[:3]}-{digits[3:7]}-{digits[7:]}"


def _birth_and_gender(rng: random.Random, id_cell: str) -> tuple[str, str]:
    """What the bank's own columns say: mostly blank, else agreeing with the ID in the bank's format."""
    if len(id_cell) != 18 or "*" in id_cell or rng.random() < 0.7:
        return "", ""
    birth = f"{id_cell[6:10]}/{int(id_cell[10:12])}/{int(id_cell[12:14])}"
    return birth, "男" if int(id_cell[16]) % 2 else "女"


def _row(i: int, rng: random.Random, blocks: list[str]) -> list[str]:
    phones = _mobile(rng, blocks) if rng.random() < 0.85 else f"{_mobile(rng, blocks)};{_mobile(rng, blocks)}"
    landline = f"0591-8{rng.randrange(10**6):06d}{rng.randrange(10)}" if rng.random() < 0.3 else ""
    amount = f"{rng.randrange(10**7) / 100:,.2f}" if rng.random() < 0.8 else f"{rng.randrange(1, 99) / 10}万"
    id_cell = _id_cell(rng)
    birth, gender = _birth_and_gender(rng, id_cell)
    return [
        f"K{i:09d}",
        rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2)))),
        id_cell,
        phones,
        landline,
        f"福建省福州市{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
        birth,
        gender,
        amount,
        f"HT{rng.randrange(10**10):010d}",
    ]


def generate(path: Path, rows: int, seed: int, phone_blocks: int = 20_000) -> None:
    """Write ``rows`` synthetic bank rows (with a header) to ``path`` as UTF-8 CSV, deterministically.

    Mobiles come from ``phone_blocks`` 7-digit number blocks (a province holds some 10,000–20,000;
    0: any block of the country), which is what decides how often phone lookups repeat.
    """
    rng = random.Random(seed)
    blocks = [f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**4):04d}" for _ in range(phone_blocks)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(_row(i, rng, blocks))


def _backend_cpu_seconds(engine: object) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends serving this database on this machine.

    Backends are found by their process title ("postgres: … <database> …"): the server may run in
    another PID namespace, where pg_backend_pid() names no process of ours. None when none is found.
    """
    import sqlalchemy as sa

    assert isinstance(engine, sa.Engine)
    if engine.dialect.name != "postgresql" or engine.url.database is None:
        return None
    marker, tick, total, found = f" {engine.url.database} ".encode(), os.sysconf("SC_CLK_TCK"), 0.0, False
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or marker not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        found = True
    return total if found else None


def _child(url: str, path: str, batch_size: int, workers: int | None) -> None:
    """Run one submission and print its figures as JSON: wall time, CPU per process, peak RSS."""
    import resource

    from contactfix.db.engine import make_engine
    from contactfix.db.migrate import upgrade_database
    from contactfix.intake.service import submit_bank_batch

    upgrade_database(url)
    engine = make_engine(url)
    started, cpu_started = time.perf_counter(), time.process_time()
    receipt = submit_bank_batch(engine, path, "bench bank", batch_size=batch_size, workers=workers)
    seconds, main_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    workers_usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's processes, joined by now
    figures = {
        "rows": receipt.rows, "accepted": receipt.accepted, "rejected": receipt.rejected,
        "issues": len(receipt.warnings) + receipt.warnings_omitted, "seconds": seconds,
        "main_cpu": main_cpu, "workers_cpu": workers_usage.ru_utime + workers_usage.ru_stime,
        "database_cpu": _backend_cpu_seconds(engine),
        "main_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mib": workers_usage.ru_maxrss / 1024,
    }  # fmt: skip
    engine.dispose()
    print(json.dumps(figures))


def _run_child(url: str, path: Path, batch_size: int, workers: int | None) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.intake_bench", "--child", url, str(path)]
    command += ["--batch-size", str(batch_size)] + ([] if workers is None else ["--workers", str(workers)])
    load_before = os.getloadavg()[0]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=RESULTS.parent.parent)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load_before"], figures["load_after"] = load_before, os.getloadavg()[0]
    return figures


def _postgres_run(admin_url: str, path: Path, batch_size: int, workers: int | None) -> dict[str, float]:
    from contactfix.db import throwaway_database

    with throwaway_database(admin_url, "contactfix_bench") as url:
        return _run_child(url, path, batch_size, workers)


_TABLE_HEAD = (
    "| backend | rows | accepted | rejected | issues | seconds | rows/s | load 1-min: start → end "
    "| CPU µs/row: validate · main · database | peak RSS MiB: main · worker |",
    "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
)
_CPU_NOTE = (
    "CPU µs/row is load-independent: what the rows cost in the validation workers, the main process "
    "(reading, writing) and the PostgreSQL backend. Rows/s on an idle machine ≈ cores / sum, "
    "as long as no one process is the bottleneck. RSS of a forked worker counts pages it shares with main."
)
_NOTES = "### Notes"


def _table_row(backend: str, f: dict[str, float]) -> str:
    rows = f["rows"]
    per_row = [f["workers_cpu"] or None, f["main_cpu"], f["database_cpu"]]
    cpu = " · ".join("–" if v is None else f"{v / rows * 1e6:.0f}" for v in per_row)
    counts = f"{rows:,} | {f['accepted']:,} | {f['rejected']:,} | {f['issues']:,}"
    speed = (
        f"{f['seconds']:.1f} | {rows / f['seconds']:,.0f} | {f['load_before']:.1f} → {f['load_after']:.1f}"
    )
    memory = f"{f['main_peak_mib']:.0f} · {f['worker_peak_mib']:.0f}"
    return f"| {backend} | {counts} | {speed} | {cpu} | {memory} |"


def write_results(command: str, lines: list[str]) -> None:
    """Put ``lines`` under "### `command`" in the "## Intake" section of bench/RESULTS.md.

    The block of an earlier run of the same command is replaced; the blocks of other commands, the
    "### Notes" block and the other sections of the file are left as they are.
    """
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    found = pattern.search(text)
    blocks = _blocks(found.group(0) if found else "")
    blocks[f"### `{command}`"] = "\n".join(lines).strip()
    ordered = sorted(blocks.items(), key=lambda item: item[0] == _NOTES)  # notes last
    section = "\n\n".join([SECTION, *(f"{head}\n\n{body}" for head, body in ordered)]) + "\n"
    text = pattern.sub(lambda _: section + "\n", text) if found else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n", encoding="utf-8")


def _blocks(section: str) -> dict[str, str]:
    """The "### …" blocks of a section, by heading (what precedes the first heading is dropped)."""
    parts = re.split(r"^(### .*)$", section, flags=re.MULTILINE)
    return {head.strip(): body.strip() for head, body in zip(parts[1::2], parts[2::2], strict=True)}


def _command_line(args: argparse.Namespace, rows: int) -> str:
    """The command as the results name it: the options that differ from the defaults."""
    command = f"python -m bench.intake_bench --rows {rows} --phone-blocks {args.phone_blocks}"
    for flag, value, default in (
        ("--backends", args.backends, "sqlite,postgresql"),
        ("--batch-size", args.batch_size, 5000),
        ("--workers", args.workers, None),
    ):
        command += "" if value == default else f" {flag} {value}"
    return command


def main(argv: list[str] | None = None) -> int:
    """Generate, run each backend, print and record the figures. Returns 0 when every run finished."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, results not recorded")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20240506)
    parser.add_argument("--phone-blocks", type=int, default=20_000, help="7-digit mobile blocks (0: all)")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--workers", type=int, default=None, help="validation processes (default: intake's)")
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], args.batch_size, args.workers)
        return 0
    rows = 20_000 if args.quick else args.rows
    machine = machine_summary()
    with tempfile.TemporaryDirectory(prefix="intake_bench_") as folder:
        path = Path(folder) / "bank.csv"
        started = time.perf_counter()
        generate(path, rows, args.seed, args.phone_blocks)
        size = path.stat().st_size / 2**20
        print(f"generated {rows:,} rows ({size:.0f} MiB) in {time.perf_counter() - started:.1f} s")
        command = _command_line(args, rows)
        lines = [f"{machine}.", "", *_TABLE_HEAD]
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
                figures = _run_child(url, path, args.batch_size, args.workers)
            else:
                figures = _postgres_run(args.pg_admin_url, path, args.batch_size, args.workers)
            lines.append(_table_row(backend, figures))
            print(lines[-1], flush=True)
        lines += ["", _CPU_NOTE]
    if not args.quick:
        write_results(command, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
