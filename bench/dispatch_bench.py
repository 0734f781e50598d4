"""Dispatch throughput and latency through the whole path, against a no-op Celery task in the same run.

    python -m bench.dispatch_bench [--count 3000] [--concurrency 2] [--rate 100 --seconds 20]

Everything is real: a Redis of the bench's own, a throwaway PostgreSQL database, ``contactfix worker``
processes. Three measurements, in one run so the machine's load is shared:

1. no-op: ``--count`` ``contactfix.ping`` tasks queued, then a worker started; its drain rate from
   the first task done to the last (each counts itself in Redis);
2. dispatch: ``--count`` pending dispatches relayed (``--batch-size`` ids a task, as the service's
   relay does), then a fresh worker started; its drain rate the same way, until every one is
   delivered — policy gate, rate limits, claim, call path and text through the ``outbox``, state in
   PostgreSQL;
3. latency: dispatches planned (committed) at ``--rate`` per second for ``--seconds``, relayed every
   ``--relay-every`` seconds; enqueue-to-sent is the time from the relay's publish to the outbox
   line's ``written_at``, commit-to-sent from the row's commit; p50/p99/max.

Prints one JSON line and a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import machine_summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"


def _celery(env: dict[str, str]) -> Any:
    from contactfix.settings import load_settings
    from contactfix.tasks import make_celery

    return make_celery(load_settings(env))


def _drain_rate(count: Callable[[], int], total: int, start_worker: Callable[[], Any]) -> tuple[float, Any]:
    """Tasks/s of a worker draining a queue filled before it started: from the first task done
    (the worker is up and warm) to the last, so neither start-up nor the publisher's speed counts."""
    worker = start_worker()
    _wait(lambda: count() > 0, 120)
    first, started = count(), time.perf_counter()
    _wait(lambda: count() >= total, 1200)
    return (total - first) / (time.perf_counter() - started), worker


def _noop_rate(celery: Any, broker: str, total: int, start_worker: Callable[[], Any]) -> tuple[float, Any]:
    import redis

    client = redis.Redis.from_url(broker)
    key = f"contactfix:ping:bench{time.time_ns()}"
    for _ in range(total):
        celery.send_task("contactfix.ping", args=[key.removeprefix("contactfix:ping:")])
    return _drain_rate(lambda: int(client.get(key) or 0), total, start_worker)


def _delivered(engine: Any) -> int:
    from sqlalchemy import func, select

    from contactfix.db.dispatch_models import Dispatch

    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(Dispatch.state == "delivered")).scalar_one())


def _dispatch_rate(
    celery: Any, engine: Any, total: int, batch_size: int, start_worker: Callable[[], Any]
) -> tuple[float, Any]:
    from dispatch_support import make_dispatches

    from contactfix.dispatch.relay import relay_batches
    from contactfix.dispatch.sender import utcnow

    make_dispatches(engine, total)
    relay_batches(engine, lambda ids: celery.send_task("contactfix.dispatch_send_batch", args=[ids]),
                  now=utcnow(), requeue_after_s=600, batch_size=batch_size, limit=total)  # fmt: skip
    return _drain_rate(lambda: _delivered(engine), total, start_worker)


def _latency(
    celery: Any, engine: Any, outbox: Path, rate: float, seconds: float, done_before: int, batch_size: int,
    relay_every: float,
) -> dict[str, float]:  # fmt: skip
    """Dispatches planned (committed) at ``rate`` per second, relayed every ``relay_every`` seconds
    in batches, as the service runs: enqueue-to-sent and commit-to-sent, from the outbox's times."""
    from dispatch_support import debtor_phone, make_debtors
    from sqlalchemy.orm import Session

    from connectors.outbox import read_outbox
    from contactfix.dispatch.planning import PlannedContact, dispatch_hasher, idempotency_key, plan_dispatches
    from contactfix.dispatch.relay import relay_batches
    from contactfix.dispatch.sender import utcnow

    total = int(rate * seconds)
    debtors = make_debtors(engine, total, batch="-latency")
    committed: dict[str, float] = {}
    enqueued: dict[int, float] = {}

    def publish(ids: list[int]) -> None:
        celery.send_task("contactfix.dispatch_send_batch", args=[ids])
        enqueued.update(dict.fromkeys(ids, time.time()))

    started = time.time()
    next_relay = started
    planned = 0
    while planned < total:  # catch up to the schedule: a commit holds the rows that fell due
        due = min(total, int((time.time() - started) * rate) + 1)
        if due > planned:
            batch = {debtors[n]: PlannedContact("phone", debtor_phone(n), 0.97) for n in range(planned, due)}
            with Session(engine) as session, session.begin():
                plan_dispatches(session, batch, None)
                hasher = dispatch_hasher(session.connection())
            at = time.time()
            for n in range(planned, due):
                key = idempotency_key(debtors[n], "phone", debtor_phone(n), "sms", "repaired_contact", hasher)
                committed[key] = at
            planned = due
        if time.time() >= next_relay:
            relay_batches(engine, publish, now=utcnow(), requeue_after_s=600, batch_size=batch_size)
            next_relay += relay_every
        time.sleep(max(0.0, started + planned / rate - time.time()))
    deadline = time.monotonic() + 600
    while _delivered(engine) < done_before + total:  # the rest, as beat's relay would
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the latency run's dispatches")
        relay_batches(engine, publish, now=utcnow(), requeue_after_s=600, batch_size=batch_size)
        time.sleep(relay_every)
    keys = _keys_by_id(engine, list(enqueued))
    written = {
        e["idempotency_key"]: dt.datetime.fromisoformat(e["written_at"]).timestamp()
        for e in read_outbox(outbox)
        if e["kind"] == "sms" and e["idempotency_key"] in committed
    }
    from_enqueue = sorted(written[keys[i]] - at for i, at in enqueued.items())
    from_commit = sorted(written[key] - at for key, at in committed.items())
    return {
        "sent": len(written),
        "achieved_rate": round(total / (max(committed.values()) - started), 1),
        **_percentiles("enqueue", from_enqueue),
        **_percentiles("commit", from_commit),
    }


def _keys_by_id(engine: Any, ids: list[int]) -> dict[int, str]:
    from sqlalchemy import select

    from contactfix.db.dispatch_models import Dispatch

    with engine.connect() as connection:
        rows = connection.execute(select(Dispatch.id, Dispatch.idempotency_key).where(Dispatch.id.in_(ids)))
        return {int(i): str(k) for i, k in rows}


def _percentiles(name: str, delays: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_s": round(statistics.median(delays), 4),
        f"{name}_p99_s": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 4),
        f"{name}_max_s": round(delays[-1], 4),
    }


def _wait(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {seconds} s")
        time.sleep(0.02)


def run(
    count: int, concurrency: int, rate: float, seconds: float, batch_size: int = 10, relay_every: float = 0.5
) -> dict[str, Any]:
    """All three measurements on fresh services; returns the figures."""
    from service_support import RedisServer, service_env, start_worker

    from contactfix.db.engine import make_engine, throwaway_database
    from contactfix.db.migrate import upgrade_database

    folder = Path(tempfile.mkdtemp(prefix="contactfix-dispatch-bench-"))
    server = RedisServer(folder)
    server.start()
    try:
        with throwaway_database(ADMIN_URL, "contactfix_bench") as url:
            upgrade_database(url)
            engine = make_engine(url)
            # The service's own recovery settings (the relay is not running: nothing is re-enqueued).
            env = service_env(
                folder, url, server.url, dispatch_visibility_timeout_s=300, dispatch_requeue_after_s=60,
                dispatch_lease_s=120, dispatch_backoff_cap_s=240,
            )  # fmt: skip
            celery = _celery(env)
            workers: list[Any] = []

            def new_worker() -> Any:
                workers.append(start_worker(env, folder, f"bench{len(workers)}", concurrency))
                return workers[-1]

            try:
                noop, worker = _noop_rate(celery, server.url, count, new_worker)
                worker.stop()
                dispatch, _ = _dispatch_rate(celery, engine, count, batch_size, new_worker)
                latency = _latency(
                    celery, engine, folder / "outbox.jsonl", rate, seconds, count, batch_size, relay_every
                )
            finally:
                for worker in workers:
                    worker.stop()
                engine.dispose()
    finally:
        server.stop()
    return {
        "count": count,
        "concurrency": concurrency,
        "batch_size": batch_size,
        "relay_every_s": relay_every,
        "noop_per_s": round(noop, 1),
        "dispatch_per_s": round(dispatch, 1),
        "ratio": round(dispatch / noop, 3),
        "latency": latency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="tasks and dispatches per throughput run")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--rate", type=float, default=100.0, help="dispatches per second for the latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    parser.add_argument(
        "--batch-size", type=int, default=10, help="dispatches per task (the setting's default)"
    )
    parser.add_argument(
        "--relay-every", type=float, default=0.5, help="seconds between relay runs (latency run)"
    )
    parser.add_argument("--quick", action="store_true", help="a small run (300 tasks, 5 s of latency)")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.seconds = 300, 5.0
    machine = machine_summary()
    figures = run(args.count, args.concurrency, args.rate, args.seconds, args.batch_size, args.relay_every)
    print(json.dumps(figures))
    lat = figures["latency"]
    print(f"\n`python -m bench.dispatch_bench --count {args.count} --concurrency {args.concurrency} "
          f"--rate {args.rate:g} --seconds {args.seconds:g} --batch-size {args.batch_size} "
          f"--relay-every {args.relay_every:g}` — {machine}\n")  # fmt: skip
    print("| measure | value |\n|---|---|")
    print(f"| no-op Celery task (`contactfix.ping`) | {figures['noop_per_s']:,.0f} /s |")
    print(f"| dispatch, whole path | {figures['dispatch_per_s']:,.0f} /s |")
    print(f"| ratio (target ≥ 0.5) | {figures['ratio']:.2f} |")
    for name, what in (("enqueue", "enqueue-to-sent (target p99 < 1 s)"), ("commit", "commit-to-sent")):
        print(f"| {what} at {lat['achieved_rate']:g}/s: p50 / p99 / max | {lat[name + '_p50_s']:.3f} / "
              f"{lat[name + '_p99_s']:.3f} / {lat[name + '_max_s']:.3f} s |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
