"""Ingestion benchmark: events through the HTTP API into Postgres.

Starts gunicorn on a scratch database and posts events over real HTTP:

1. batches of 1,000 events from two concurrent clients → events/s;
2. single events from one client, one after another → latency p50/p99 (and events/s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/journeys REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m tests.perf.bench_ingest --events 50000 --singles 2000

Processing messages go to a queue of their own (``bench-ingest-<random>``), purged at the end,
so no worker of a running system picks them up; the cache has a key prefix of its own too.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.perf.harness import (
    Stopwatch,
    describe,
    isolate,
    percentile,
    print_load,
    purge,
    scratch_database,
    setup_django,
    write_result,
)

BASE_DIR = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000, help="events sent in batches")
    parser.add_argument("--batch", type=int, default=1000, help="events per batch request")
    parser.add_argument("--singles", type=int, default=2000, help="events sent one per request")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    queue = isolate("ingest")
    setup_django()
    print_load("start")
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark measures Postgres: set DATABASE_URL=postgres://…")

    with scratch_database():
        api_key = _make_api_key()
        server = _start_gunicorn(args.port, args.web_workers, connection.settings_dict["NAME"])
        try:
            figures = _run(args, f"http://127.0.0.1:{args.port}", api_key)
        finally:
            server.terminate()
            server.wait(20)
            _purge_queue(queue)
            connection.close()
    print_load("end")
    write_result("bench_ingest", figures)


def _make_api_key() -> str:
    from django.contrib.auth import get_user_model

    from journeys.models import ApiKey
    from journeys.services.api_keys import api_key_create

    user = get_user_model().objects.create_user(username="bench", password=uuid.uuid4().hex)
    _, full_key = api_key_create(name="bench", user=user, scope=ApiKey.Scope.INGEST)
    return full_key


def _start_gunicorn(port: int, workers: int, database: str) -> subprocess.Popen:
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{database}")),
        "API_THROTTLE_USER": "100000000/min",
        "API_THROTTLE_INGEST": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            str(BASE_DIR / ".venv/bin/gunicorn"),
            "-c",
            "python:config.gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not start")


def _run(args, base: str, api_key: str) -> dict:
    import httpx

    from journeys.models import Event

    headers = {"Authorization": f"Api-Key {api_key}"}
    run = uuid.uuid4().hex[:6]

    def batch_body(start: int, prefix: str = run) -> list[dict]:
        return [
            {
                "type": "kintell.session.completed",
                "user_id": f"bench-{(start + i) % 5000}",
                "payload": {"rating": (start + i) % 5 + 1, "session_type": "language"},
                "idempotency_key": f"{run}-{start + i}",
            }
            for i in range(args.batch)
        ]

    # Warm up: connections, caches, the first participants.
    with httpx.Client(headers=headers, timeout=60) as client:
        client.post(f"{base}/api/v1/events", json=batch_body(0, prefix=f"warm-{run}")).raise_for_status()

    print(f"batch ingestion: {args.events} events in batches of {args.batch}, 2 clients…", flush=True)
    starts = list(range(0, args.events, args.batch))
    batch_ms: list[float] = []

    def send(start: int, client: httpx.Client) -> None:
        t0 = time.perf_counter()
        client.post(f"{base}/api/v1/events", json=batch_body(start)).raise_for_status()
        batch_ms.append((time.perf_counter() - t0) * 1000)

    clients = [httpx.Client(headers=headers, timeout=60) for _ in range(2)]
    with Stopwatch() as batches, ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda ix: send(ix[1], clients[ix[0] % 2]), enumerate(starts)))
    for client in clients:
        client.close()
    stored = Event.objects.filter(idempotency_key__startswith=f"{run}-").count()
    print(
        f"  {stored / batches.seconds:,.0f} events/s ({stored} stored in {batches.seconds:.1f} s); "
        f"per request: {describe(batch_ms)}"
    )

    print(f"single events: {args.singles} requests, one client…", flush=True)
    single_ms: list[float] = []
    with httpx.Client(headers=headers, timeout=30) as client, Stopwatch() as singles:
        for i in range(args.singles):
            t0 = time.perf_counter()
            client.post(
                f"{base}/api/v1/events",
                json={"type": "signup", "user_id": f"single-{i % 1000}", "idempotency_key": f"{run}-s-{i}"},
            ).raise_for_status()
            single_ms.append((time.perf_counter() - t0) * 1000)
            if (i + 1) % 500 == 0:
                print(f"  {i + 1}/{args.singles}", flush=True)
    print(f"  {args.singles / singles.seconds:,.0f} events/s sequential; latency {describe(single_ms)}")
    return {
        "batch_events_per_second": round(stored / batches.seconds),
        "batch_request_ms_p50": round(percentile(batch_ms, 50), 1),
        "single_events_per_second": round(args.singles / singles.seconds),
        "single_latency_ms_p50": round(percentile(single_ms, 50), 1),
        "single_latency_ms_p99": round(percentile(single_ms, 99), 1),
    }


def _purge_queue(queue: str) -> None:
    try:
        purge(queue)
    except Exception as exc:  # a filesystem broker folder, or nothing to purge
        print(f"(queue not purged: {exc})")


if __name__ == "__main__":
    main()
