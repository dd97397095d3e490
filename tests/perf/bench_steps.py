"""Journey engine throughput: steps/s, dispatch lag, enrolments/s (Postgres + Redis, one worker).

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python -m tests.perf.bench_steps [--n 20000]

What it does, on a scratch database:

1. **enrolments**: N participants enter three journeys at once through the set-based enrolment
   (one insert for the batch), then N events go through the bus path one by one (in-process);
2. **tag steps**: N user journeys of a 3-step journey (tag, tag after a delay, tag) whose second
   step is made due at once; one Celery worker (solo pool) executes them, beat's tick is played
   by this process (one dispatch message a second). Steps/s = 2N / time to finish;
3. **webhooks**: the same with a webhook to a local HTTP sink as the second step;
4. **lag at steady load**: runs falling due at half the measured tag rate for ~10 s; lag is
   ``executed_at - due_at`` (p50/p99).
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.perf.harness import Stopwatch, percentile, scratch_database, setup_django

BASE_DIR = Path(__file__).resolve().parent.parent.parent
ENROL_BATCH = 1000  # participants per set-based enrolment call


def start_worker(queue: str, database_name: str) -> subprocess.Popen:
    parts = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{database_name}")),
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    log = (BASE_DIR / "var" / f"bench-worker-{queue}.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"{queue}@%h",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    time.sleep(4)  # the worker connects to Redis and imports Django
    return worker


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


def bench_enrolments(n: int) -> None:
    from journeys.models import Event, UserJourney
    from journeys.services.enrolment import journeys_handle_event
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
    print(
        f"set-based enrolment: {3 * n} user journeys in {seconds:.2f} s = {3 * n / seconds:,.0f} enrolments/s"
    )

    m = min(n, 2000)
    events_ingest(events=[EventInput(type="bench.signup", user_id=f"bus-{i}") for i in range(m)])
    events = list(Event.objects.filter(type="bench.signup").select_related("participant"))
    before = UserJourney.objects.count()
    with Stopwatch() as watch:
        for event in events:
            from django.db import transaction

            with transaction.atomic():
                journeys_handle_event(event)
    made = UserJourney.objects.count() - before
    print(
        f"bus path (one event at a time, in-process): {made} user journeys from {m} events in "
        f"{watch.seconds:.2f} s = {made / watch.seconds:,.0f} enrolments/s"
    )


def run_due(label: str, journey, n: int, queue: str) -> float:
    from django.db.models import Max, Min
    from django.utils import timezone

    from journeys.models import StepRun, UserJourney
    from journeys.tasks import step_runs_dispatch_task

    people = participants(label, n)
    seconds = enrol_all([journey], people)
    print(f"{label}: enrolled {n} in {seconds:.2f} s; making their second step due…", flush=True)
    runs = StepRun.objects.filter(user_journey__journey=journey, step_key="second")
    due = timezone.now()
    runs.update(due_at=due)
    started = time.perf_counter()
    completed = 0
    last_tick = 0.0
    while completed < n:
        if time.perf_counter() - last_tick >= 1.0:
            step_runs_dispatch_task.apply_async(queue=queue, expires=0.9)
            last_tick = time.perf_counter()
        time.sleep(0.2)
        completed = UserJourney.objects.filter(journey=journey, state=UserJourney.State.COMPLETED).count()
        if time.perf_counter() - started > 600:
            print(f"{label}: gave up after 600 s with {completed}/{n} completed")
            break
    span = StepRun.objects.filter(user_journey__journey=journey, step_key__in=["second", "third"]).aggregate(
        first=Min("executed_at"), last=Max("finished_at")
    )
    elapsed = (span["last"] - due).total_seconds()
    lags = [(r.executed_at - r.due_at).total_seconds() * 1000 for r in runs.only("executed_at", "due_at")]
    rate = 2 * completed / elapsed
    print(
        f"{label}: {2 * completed} steps in {elapsed:.2f} s = {rate:,.0f} steps/s "
        f"(lag of the due step p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms, under a "
        f"backlog of {n})"
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
        f"over {len(lags)} runs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="user journeys per scenario")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.db import connection

    from config.celery import app as celery_app

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        sys.exit("bench_steps needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    celery_app.conf.task_default_queue = queue
    with scratch_database():
        from journeys.services.journeys import journey_create
        from tests.conftest import WebhookSink

        bench_enrolments(args.n)
        worker = start_worker(queue, connection.settings_dict["NAME"])
        sink = WebhookSink()
        try:
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
            tags = journey_create(data={"name": "Bench tags"}, steps=three, publish=True)
            rate = run_due("tags", tags, args.n, queue)

            hooks = journey_create(
                data={"name": "Bench webhooks"},
                steps=[
                    three[0],
                    {**three[1], "action_type": "trigger_webhook", "config": {"url": f"{sink.url}/hook"}},
                    three[2],
                ],
                publish=True,
            )
            run_due("webhooks", hooks, args.n // 4, queue)
            print(f"the sink received {len(sink.requests)} webhooks")

            steady = journey_create(data={"name": "Bench steady"}, steps=three, publish=True)
            steady_lag(steady, rate / 2, queue)
        finally:
            worker.terminate()
            worker.wait(20)
            sink.close()
            from django.db import connections

            connections.close_all()


if __name__ == "__main__":
    main()
