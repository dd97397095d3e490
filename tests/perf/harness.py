"""What every benchmark shares: isolation, Django set up, a scratch database, workers, timing,
the machine's load and a result file.

A benchmark never touches a deployment's data: it creates a scratch database on the server
``DATABASE_URL`` names (``test_bench_<name>_<random>``), migrates it and drops it afterwards;
and before Django is set up, ``isolate`` gives the run a Celery queue and a cache key prefix of
its own, which the workers it starts inherit, so nothing it sends or caches reaches a deployment
sharing the same Redis, nor another benchmark running at the same time.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[2]
RESULTS_DIR = BASE_DIR / "var" / "bench"
WORKER_START_SECONDS = 4  # a worker connects to Redis and imports Django


def isolate(name: str) -> str:
    """Give this run a Celery queue and a cache key prefix of its own; returns their name.

    Must run before ``setup_django`` (settings read both from the environment); the workers and
    servers started afterwards inherit them.
    """
    run = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    os.environ["CELERY_QUEUE"] = run
    os.environ["CACHE_KEY_PREFIX"] = run
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return run


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from config.collector import tune_garbage_collection

    tune_garbage_collection()  # as a worker does: what is timed here is worker code


def load_average() -> str:
    """The machine's load, printed with every figure: on shared cores the figures depend on it."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def print_load(label: str = "") -> str:
    text = load_average()
    print(f"[{label + ': ' if label else ''}{text}]", flush=True)
    return text


def scratch_url(database_name: str) -> str:
    """``DATABASE_URL`` pointing at the scratch database."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{database_name}"))


def start_worker(
    *,
    queue: str,
    database_name: str,
    name: str = "worker",
    concurrency: int = 1,
    threads: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """One Celery worker process on the scratch database and the run's queue: the solo pool for
    ``concurrency=1``, else a prefork pool of that many processes; or, with ``threads``, one
    process running that many tasks at once in threads (Celery's threads pool). Its log goes to
    ``var/bench/<queue>-<name>.log``; stop it with ``stop_process``."""
    if concurrency > 1 and threads > 1:
        raise ValueError("a worker has either a prefork pool or a threads pool, not both")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log = (RESULTS_DIR / f"{queue}-{name}.log").open("w")
    pool = ["--pool", "solo"]
    if concurrency > 1:
        pool = ["--pool", "prefork", "--concurrency", str(concurrency)]
    if threads > 1:
        pool = ["--pool", "threads", "--concurrency", str(threads)]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *pool,
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"{name}-{queue}@%h",
        ],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": scratch_url(database_name),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            **(env or {}),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return worker


def start_workers(
    *, queue: str, database_name: str, processes: int, threads: int = 1
) -> list[subprocess.Popen]:
    """``processes`` workers (each its own process, solo or with ``threads``), started together."""
    workers = [
        start_worker(queue=queue, database_name=database_name, name=f"worker{i}", threads=threads)
        for i in range(processes)
    ]
    time.sleep(WORKER_START_SECONDS)
    return workers


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process this benchmark started (its own process group: a prefork pool's children too)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def purge(queue: str) -> None:
    """Drop the messages left on the run's queue."""
    from config.celery import app as celery_app

    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` (with the time, the load and the command line) to
    ``var/bench/<name>-<UTC time>.json``, so runs can be compared; returns the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = RESULTS_DIR / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    document = {
        "benchmark": name,
        "at": now.isoformat(),
        "command": " ".join([Path(sys.executable).name, "-m", f"tests.perf.{name}", *sys.argv[1:]]),
        "load_average_at_end": load_average(),
        "cpu_count": os.cpu_count(),
        "figures": figures,
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    print(f"results written to {path.relative_to(BASE_DIR)}", flush=True)
    return path


@contextmanager
def scratch_database() -> Iterator[None]:
    """A freshly migrated database for the benchmark, dropped on exit; named after the run
    (``test_bench_<name>_<random>``), so two benchmarks started together never share one."""
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    run = os.environ["CELERY_QUEUE"].replace("-", "_")  # set by ``isolate``
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_{run}"
    print("creating a scratch database…", flush=True)
    config = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield
    finally:
        teardown_databases(config, verbosity=0)


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(samples_ms: list[float]) -> str:
    return (
        f"p50 {percentile(samples_ms, 50):.1f} ms, p99 {percentile(samples_ms, 99):.1f} ms, "
        f"mean {statistics.fmean(samples_ms):.1f} ms"
    )


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
