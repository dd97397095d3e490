"""Journey engine throughput: steps/s, dispatch lag, enrolments/s, claim cost, worker memory.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python -m tests.perf.bench_steps [--n 20000]
        [--completed 1000000] [--memory 10000,100000] [--threads 2] [--workers 1,2,4 --only-scale-out]

What it does, on a scratch database:

1. **enrolments**: N participants enter three journeys at once through the set-based enrolment
   (one insert for the batch); then events through the bus: the journeys' subscriber one event
   at a time, and the bus processing a worker message's worth of events at once (every
   subscriber, set-based where the subscriber can be);
2. **tag steps**: N user journeys of a 3-step journey (tag, tag after a delay, tag) whose second
   step is made due at once; one Celery worker process executes them (the solo pool, or with
   ``--threads`` Celery's threads pool, so that one thread's Python runs while another waits for
   Postgres), beat's tick is played by this process (one dispatch message a second per thread).
   Steps/s = 2N / time to finish;
3. **webhooks**: the same with a webhook to a local HTTP sink as the second step (the sink runs
   in a process of its own: ``tests/perf/sink.py``), N/4 journeys;
4. **lag at steady load**: runs falling due at half the measured tag rate for ~10 s; lag is
   ``executed_at - due_at`` (p50/p99);
5. **claim cost**, on a scratch database of its own: the dispatcher's claim statement (500 of
   5,000 due runs, rolled back) on the fresh table, then after ``--completed`` finished runs are
   added (one ``INSERT … SELECT generate_series``), before and after ``VACUUM ANALYZE``;
6. **memory**: the worker's resident set size after executing each of the ``--memory`` sizes
   of the tag scenario in turn (same worker process).
"""

import argparse
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from tests.perf.harness import (
    WORKER_START_SECONDS,
    Stopwatch,
    isolate,
    percentile,
    print_load,
    purge,
    scratch_database,
    setup_django,
    start_worker,
    start_workers,
    stop_process,
    write_result,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ENROL_BATCH = 1000  # participants per set-based enrolment call
CLAIM_DUE_RUNS = 5000  # due runs on the table while the claim is timed
CLAIM_SAMPLES = 15
COMPLETED_PER_JOURNEY = 1000  # finished runs per (finished) user journey in the claim scenario


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def participants(prefix: str, n: int):
    from journeys.models import Participant

    Participant.objects.bulk_create([Participant(user_id=f"{prefix}-{i}") for i in range(n)], batch_size=5000)
    return list(Participant.objects.filter(user_id__startswith=f"{prefix}-").order_by("id"))


def enrol_all(journeys, people) -> float:
    from django.db import transaction

    from journeys.services.enrolment import Enrolment, user_journeys_enrol

    with Stopwatch() as watch:
        for start in range(0, len(people), ENROL_BATCH):
            chunk = people[start : start + ENROL_BATCH]
            with transaction.atomic():
                user_journeys_enrol(
                    enrolments=[Enrolment(journey=j, participant=p) for p in chunk for j in journeys]
                )
    return watch.seconds


def bench_enrolments(n: int, queue: str) -> dict[str, int]:
    from django.db import transaction

    from journeys import bus
    from journeys.models import Event, UserJourney
    from journeys.services.event_handling import journeys_handle_event
    from journeys.services.events import EventInput, events_ingest
    from journeys.services.journeys import journey_create

    journeys = [
        journey_create(
            data={"name": f"Enrol {i}", "trigger_type": "bench.signup", "re_entry": "always"},
            steps=[{"key": "hold", "name": "Hold", "kind": "manual"}],
            publish=True,
        )
        for i in range(3)
    ]
    people = participants("enrol", n)
    seconds = enrol_all(journeys, people)
    figures = {"set_based_per_second": round(3 * n / seconds)}
    print(
        f"set-based enrolment: {3 * n} user journeys in {seconds:.2f} s = {3 * n / seconds:,.0f} enrolments/s"
    )

    m = min(n, 2000)
    events_ingest(events=[EventInput(type="bench.signup", user_id=f"bus-{i}") for i in range(m)])
    events = list(Event.objects.filter(type="bench.signup").select_related("participant"))
    before = UserJourney.objects.count()
    with Stopwatch() as watch:
        for event in events:
            with transaction.atomic():
                journeys_handle_event(event)
    made = UserJourney.objects.count() - before
    print(
        f"journeys' subscriber, one event at a time (in-process): {made} user journeys from {m} events in "
        f"{watch.seconds:.2f} s = {made / watch.seconds:,.0f} enrolments/s"
    )

    events_ingest(events=[EventInput(type="bench.signup", user_id=f"bus-batch-{i}") for i in range(m)])
    ids = list(
        Event.objects.filter(participant__user_id__startswith="bus-batch-")
        .order_by("id")
        .values_list("id", flat=True)
    )
    before = UserJourney.objects.count()
    with Stopwatch() as watch:
        for start in range(0, len(ids), bus.EVENT_DISPATCH_CHUNK):
            bus.events_process(event_ids=ids[start : start + bus.EVENT_DISPATCH_CHUNK])
    made = UserJourney.objects.count() - before
    print(
        f"bus, {bus.EVENT_DISPATCH_CHUNK} events per worker message (every subscriber, in-process): {made} "
        f"user journeys from {m} events in {watch.seconds:.2f} s = {made / watch.seconds:,.0f} enrolments/s"
    )
    figures["bus_message_per_second"] = round(made / watch.seconds)
    purge(queue)  # their processing messages: this process has done that work
    return figures


def run_due(label: str, journey, n: int, queue: str, dispatchers: int = 1) -> float:
    """Make the second step of ``n`` runs due at once; beat's tick (``dispatchers`` dispatch
    messages a second) is played by this process. Returns steps/s."""
    from django.db.models import Max
    from django.utils import timezone

    from journeys.models import StepRun, UserJourney
    from journeys.tasks import step_runs_dispatch_task

    people = participants(label, n)
    seconds = enrol_all([journey], people)
    print(
        f"{label}: enrolled {n} in {seconds:.2f} s ({n / seconds:,.0f}/s, first step included); "
        "making their second step due…",
        flush=True,
    )
    runs = StepRun.objects.filter(user_journey__journey=journey, step_key="second")
    due = timezone.now()
    runs.update(due_at=due)
    # The clock starts once the backlog exists: the runs are due from the moment this update
    # commits (one statement over n rows, which can take seconds on a table just filled), and the
    # first tick is sent only then.
    backlog_at = timezone.now()
    started = time.perf_counter()
    completed = 0
    last_tick = 0.0
    while completed < n:
        if time.perf_counter() - last_tick >= 1.0:
            for _ in range(dispatchers):
                step_runs_dispatch_task.apply_async(queue=queue, expires=0.9)
            last_tick = time.perf_counter()
        time.sleep(0.2)
        completed = UserJourney.objects.filter(journey=journey, state=UserJourney.State.COMPLETED).count()
        if time.perf_counter() - started > 600:
            print(f"{label}: gave up after 600 s with {completed}/{n} completed")
            break
    last = StepRun.objects.filter(user_journey__journey=journey, step_key__in=["second", "third"]).aggregate(
        last=Max("finished_at")
    )["last"]
    elapsed = (last - backlog_at).total_seconds()
    # Lag from the moment the runs could be claimed (the update's commit), as the steps/s above:
    # their ``due_at`` was stamped before the update ran, so it would count the update's time too.
    lags = [(r.executed_at - backlog_at).total_seconds() * 1000 for r in runs.only("executed_at")]
    rate = 2 * completed / elapsed
    print(
        f"{label}: {2 * completed} steps in {elapsed:.2f} s = {rate:,.0f} steps/s (the backlog made due in "
        f"{(backlog_at - due).total_seconds():.1f} s before the clock started) "
        f"(lag of the due step p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms, under a "
        f"backlog of {n})",
        flush=True,
    )
    return rate


def steady_lag(journey, rate: float, queue: str, seconds: float = 10.0) -> None:
    from django.utils import timezone

    from journeys.models import StepRun, UserJourney
    from journeys.tasks import step_runs_dispatch_task

    n = max(int(rate * seconds / 2), 100)  # two steps per journey run; half the measured rate
    people = participants("steady", n)
    enrol_all([journey], people)
    runs = list(
        StepRun.objects.filter(
            user_journey__journey=journey,
            step_key="second",
            user_journey__participant__user_id__startswith="steady-",
        ).order_by("id")
    )
    start = timezone.now() + timedelta(seconds=2)
    step = timedelta(seconds=seconds / len(runs))
    for index, run in enumerate(runs):
        run.due_at = start + step * index
    StepRun.objects.bulk_update(runs, ["due_at"], batch_size=5000)
    print(
        f"steady: {len(runs)} runs falling due over {seconds:.0f} s ({len(runs) / seconds:,.0f}/s, "
        f"{2 * len(runs) / seconds:,.0f} steps/s)…",
        flush=True,
    )
    deadline = time.perf_counter() + seconds + 60
    while time.perf_counter() < deadline:
        step_runs_dispatch_task.apply_async(queue=queue, expires=0.9)
        time.sleep(1.0)
        done = UserJourney.objects.filter(pk__in=[r.user_journey_id for r in runs], state="completed").count()
        if done == len(runs):
            break
    lags = [
        (r.executed_at - r.due_at).total_seconds() * 1000
        for r in StepRun.objects.filter(pk__in=[r.pk for r in runs]).only("executed_at", "due_at")
        if r.executed_at
    ]
    print(
        f"steady: dispatch lag p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms "
        f"over {len(lags)} runs",
        flush=True,
    )


def time_claim(label: str) -> float:
    """Median milliseconds of one claim statement (a full batch), each rolled back."""
    from django.conf import settings
    from django.db import connection, transaction

    from journeys.engine.claiming import step_runs_claim_due

    samples = []
    for _ in range(CLAIM_SAMPLES):
        with transaction.atomic():
            with Stopwatch() as watch:
                claims = step_runs_claim_due(limit=settings.STEP_DISPATCH_BATCH)
            transaction.set_rollback(True)
        samples.append(watch.seconds * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), pg_total_relation_size('journeys_steprun') FROM journeys_steprun")
        rows, size = cursor.fetchone()
    median = statistics.median(samples)
    print(
        f"claim ({label}): {len(claims)} runs claimed in {median:.1f} ms (median of {CLAIM_SAMPLES}, "
        f"p90 {percentile(samples, 90):.1f} ms); the table holds {rows:,} runs, {size / 2**20:,.0f} MB",
        flush=True,
    )
    return median


def bench_claim(completed: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from journeys.models import Participant, StepRun
    from journeys.services.journeys import journey_create

    journey = journey_create(
        data={"name": "Bench claim"},
        steps=[
            {
                "key": "later",
                "name": "Later",
                "action_type": "apply_tag",
                "config": {"tag": "x"},
                "delay_minutes": 60,
            }
        ],
        publish=True,
    )
    enrol_all([journey], participants("claim", CLAIM_DUE_RUNS))
    StepRun.objects.filter(user_journey__journey=journey).update(due_at=timezone.now() - timedelta(seconds=1))
    fresh = time_claim("fresh table")

    holder = Participant.objects.create(user_id="claim-history")
    journeys = -(-completed // COMPLETED_PER_JOURNEY)
    with Stopwatch() as watch, connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO journeys_userjourney (journey_id, version_id, participant_id, state, enrolment_key,
                exclusive, current_step, last_seq, context, variant, converted, end_reason, failure_reason,
                started_at, ended_at, updated_at)
            SELECT %(journey)s, %(version)s, %(participant)s, 'completed', 'history:' || g, false, 'later',
                   %(per)s, '{}'::jsonb, '', false, 'completed', '', now() - interval '30 days',
                   now() - interval '29 days', now()
            FROM generate_series(1, %(journeys)s) g
            """,
            {
                "journey": journey.pk,
                "version": journey.live_version_id,
                "participant": holder.pk,
                "per": COMPLETED_PER_JOURNEY,
                "journeys": journeys,
            },
        )
        cursor.execute(
            """
            INSERT INTO journeys_steprun (user_journey_id, participant_id, seq, step_key, step_kind,
                action_type, channel, status, entered, due_at, waiting_for, attempts, max_attempts,
                executed_at, finished_at, result, error, trace, rolled_back, created_at)
            SELECT uj.id, %(participant)s, s.seq, 'later', 'action', 'apply_tag', '', 'succeeded', true,
                   uj.started_at + s.seq * interval '1 second', '', 1, 3,
                   uj.started_at + s.seq * interval '1 second', uj.started_at + s.seq * interval '1 second',
                   '{"applied": ["x"], "changed": true}'::jsonb, '', '{}'::jsonb, false, uj.started_at
            FROM journeys_userjourney uj
            CROSS JOIN generate_series(1, %(per)s) AS s(seq)
            WHERE uj.participant_id = %(participant)s
            LIMIT %(completed)s
            """,
            {"participant": holder.pk, "per": COMPLETED_PER_JOURNEY, "completed": completed},
        )
    print(f"claim: added {completed:,} completed runs in {watch.seconds:.1f} s", flush=True)
    before_vacuum = time_claim(f"after {completed:,} completed runs, before autovacuum")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE journeys_steprun")
        cursor.execute("VACUUM ANALYZE journeys_userjourney")
    after = time_claim(f"after {completed:,} completed runs, vacuumed and analysed")
    print(
        f"claim: {before_vacuum / fresh:.2f} and {after / fresh:.2f} times the time on a fresh table "
        "(aim: at most 2)",
        flush=True,
    )


def bench_memory(
    tags_journey_steps: list[dict], sizes: list[int], queue: str, worker: subprocess.Popen
) -> None:
    from journeys.services.journeys import journey_create

    print(f"memory: worker RSS {rss_mb(worker.pid):,.0f} MB before", flush=True)
    for size in sizes:
        journey = journey_create(
            data={"name": f"Bench memory {size}"}, steps=tags_journey_steps, publish=True
        )
        run_due(f"memory-{size}", journey, size, queue)
        print(
            f"memory: worker RSS {rss_mb(worker.pid):,.0f} MB after {size:,} journeys ({2 * size:,} steps)",
            flush=True,
        )


def steps_handled_twice(journey) -> dict[str, int]:
    """Runs of this journey executed more than once, and participants whose tags are not each
    applied once (none expected: no worker died, and claims skip what another holds)."""
    from journeys.models import StepRun

    runs = StepRun.objects.filter(user_journey__journey=journey)
    return {
        "runs_executed_twice": runs.filter(attempts__gt=1).count(),
        "runs_not_succeeded": runs.exclude(status=StepRun.Status.SUCCEEDED).count(),
    }


def scale_out(
    three: list[dict], n: int, queue: str, workers: list[int], dispatchers: int, threads: int = 1
) -> dict:
    """The tag scenario with 1, 2, 4… worker processes (solo, or ``threads`` each) on the same
    Postgres and Redis, and at least ``dispatchers`` dispatch messages per tick, one per thread
    (each claims with SKIP LOCKED, so several run at once without taking the same runs)."""
    from django.db import connection

    from journeys.services.journeys import journey_create

    results: dict = {}
    for processes in workers:
        purge(queue)
        database = connection.settings_dict["NAME"]
        started = start_workers(queue=queue, database_name=database, processes=processes, threads=threads)
        try:
            journey = journey_create(data={"name": f"Scale {processes}"}, steps=three, publish=True)
            ticks = max(dispatchers, processes * threads)
            rate = run_due(f"scale{processes}", journey, n, queue, dispatchers=ticks)
        finally:
            for worker in started:
                stop_process(worker)
        twice = steps_handled_twice(journey)
        results[f"workers_{processes}"] = {"steps_per_second": round(rate), **twice, "load": print_load()}
        pool = f", {threads} threads each" if threads > 1 else ""
        print(f"scale-out, {processes} worker process(es){pool}: {rate:,.0f} steps/s; {twice}", flush=True)
    base = results[f"workers_{workers[0]}"]["steps_per_second"]
    for processes in workers[1:]:
        ratio = results[f"workers_{processes}"]["steps_per_second"] / base
        print(f"scale-out: {processes} processes = {ratio:.2f} times {workers[0]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="user journeys per scenario")
    parser.add_argument(
        "--completed", type=int, default=1_000_000, help="finished runs added for the claim (0: skip)"
    )
    parser.add_argument(
        "--memory", default="10000,100000", help="tag scenario sizes for the worker's memory (empty: skip)"
    )
    parser.add_argument(
        "--workers", default="", help="scale-out: worker processes for the tag scenario, e.g. 1,2,4"
    )
    parser.add_argument("--dispatchers", type=int, default=2, help="scale-out: dispatch messages per tick")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="tasks each worker process runs at once in threads (Celery's threads pool; 1: solo pool)",
    )
    parser.add_argument(
        "--only-scale-out", action="store_true", help="run the scale-out mode alone (needs --workers)"
    )
    args = parser.parse_args()
    queue = isolate("steps")
    memory_sizes = [int(size) for size in args.memory.split(",") if size.strip()]
    setup_django()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        sys.exit("bench_steps needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the local sink: webhook targets are checked when saved
    print_load("start")
    results: dict = {"threads_per_worker": args.threads}
    with scratch_database():
        three = [
            {"key": "first", "name": "First", "action_type": "apply_tag", "config": {"tag": "one"}},
            {
                "key": "second",
                "name": "Second",
                "action_type": "apply_tag",
                "config": {"tag": "two"},
                "delay_minutes": 60,
                "order": 1,
            },
            {
                "key": "third",
                "name": "Third",
                "action_type": "apply_tag",
                "config": {"tag": "three"},
                "order": 2,
            },
        ]
        if not args.only_scale_out:
            results.update(single_worker(args, three, queue, memory_sizes))
        if args.workers:
            workers = [int(w) for w in args.workers.split(",")]
            results["scale_out"] = scale_out(three, args.n, queue, workers, args.dispatchers, args.threads)
        from django.db import connections

        connections.close_all()
    if args.completed and not args.only_scale_out:
        with scratch_database():  # a fresh table of its own
            bench_claim(args.completed)
    print_load("end")
    write_result("bench_steps", results)


def single_worker(args, three: list[dict], queue: str, memory_sizes: list[int]) -> dict:
    """Enrolments, then tags, webhooks, lag and memory with one worker process (solo, or with
    ``--threads``: then as many dispatch messages a tick as it has threads)."""
    from django.db import connection

    from journeys.services.journeys import journey_create
    from tests.perf.sink import FastSink

    results = {"enrolment": bench_enrolments(args.n, queue)}
    worker = start_worker(queue=queue, database_name=connection.settings_dict["NAME"], threads=args.threads)
    time.sleep(WORKER_START_SECONDS)
    sink = FastSink()
    try:
        tags = journey_create(data={"name": "Bench tags"}, steps=three, publish=True)
        rate = run_due("tags", tags, args.n, queue, dispatchers=args.threads)
        results["tag_steps_per_second"] = round(rate)
        results["tags_handled_twice"] = steps_handled_twice(tags)
        print_load("tags")

        hooks = journey_create(
            data={"name": "Bench webhooks"},
            steps=[
                three[0],
                {**three[1], "action_type": "trigger_webhook", "config": {"url": f"{sink.url}/hook"}},
                three[2],
            ],
            publish=True,
        )
        results["webhook_steps_per_second"] = round(
            run_due("webhooks", hooks, args.n // 4, queue, dispatchers=args.threads)
        )
        total, distinct = sink.counts()
        results["webhooks_received"], results["webhooks_distinct"] = total, distinct
        print(f"the sink received {total} webhooks with {distinct} distinct webhook-ids", flush=True)
        print_load("webhooks")

        steady = journey_create(data={"name": "Bench steady"}, steps=three, publish=True)
        steady_lag(steady, rate / 2, queue)
        if memory_sizes:
            bench_memory(three, memory_sizes, queue, worker)
    finally:
        stop_process(worker)
        sink.close()
    return results


if __name__ == "__main__":
    main()
