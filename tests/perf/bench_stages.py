"""Staged lifecycle transitions: latency of start / promote / rollback, and promotions of many
journeys at once from several connections (seed §10: 100+ concurrent journeys, a transition
well under 5 minutes).

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python -m tests.perf.bench_stages --n 200

Celery runs eagerly here, so each call includes processing its events on the bus (as a worker
would right after). Units of work have no tasks: this measures the transitions, not agents.
"""

import argparse
import logging
import threading
import time

from tests.perf.harness import (
    Stopwatch,
    describe,
    isolate,
    percentile,
    print_load,
    scratch_database,
    setup_django,
    write_result,
)


def timed(fn, *args, **kwargs) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="journeys")
    parser.add_argument("--threads", type=int, default=16, help="concurrent connections for the promotions")
    args = parser.parse_args()
    isolate("stages")
    setup_django()
    print_load("start")
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # one line per eager task otherwise

    from django.db import connection

    from config.celery import app

    app.conf.task_always_eager = True
    with scratch_database():
        from stages.services.rollback import staged_journey_rollback
        from stages.services.staged_journeys import staged_journey_promote
        from tests.stages.factories import criteria_pipeline, satisfy, start

        criteria_pipeline()
        print(f"{connection.vendor}, {args.n} journeys, {args.threads} threads", flush=True)

        journeys, start_ms = [], []
        for i in range(args.n):
            started = time.perf_counter()
            journeys.append(start(f"bench-{i:05d}"))
            start_ms.append((time.perf_counter() - started) * 1000)
        print(f"start (UC-1):              {describe(start_ms)}", flush=True)

        journeys = [satisfy(j) for j in journeys]
        promote_ms: list[float] = []
        lock = threading.Lock()
        pending = list(journeys)

        def worker() -> None:
            try:
                while True:
                    with lock:
                        if not pending:
                            return
                        journey = pending.pop()
                    elapsed = timed(staged_journey_promote, journey=journey, actor="bench")
                    with lock:
                        promote_ms.append(elapsed)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        with Stopwatch() as wall:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        print(
            f"promote (UC-2), concurrent: {describe(promote_ms)}; "
            f"{len(promote_ms) / wall.seconds:.0f} promotions/s over {wall.seconds:.1f} s",
            flush=True,
        )

        rollback_ms = [
            timed(staged_journey_rollback, journey=j, reason="bench", actor="bench")
            for j in journeys[: args.n // 2]
        ]
        print(f"rollback (UC-3) + snapshot: {describe(rollback_ms)}", flush=True)
    print_load("end")
    write_result(
        "bench_stages",
        {
            f"{name}_ms_{pct}": round(percentile(samples, pct), 1)
            for name, samples in (("start", start_ms), ("promote", promote_ms), ("rollback", rollback_ms))
            for pct in (50, 99)
        }
        | {"promotions_per_second": round(len(promote_ms) / wall.seconds)},
    )


if __name__ == "__main__":
    main()
