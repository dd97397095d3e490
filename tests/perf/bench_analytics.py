"""Analytics at scale: fill a scratch database with ~1M step runs, build the rollups, and time
every analytics endpoint through the full request stack (p50 / p95 per endpoint; aim < 200 ms).

    DATABASE_URL=postgres://… REDIS_URL=redis://… \
        .venv/bin/python -m tests.perf.bench_analytics --step-runs 1000000

The rows are written with set-based SQL (Postgres only): 10 journeys of five steps, a quarter
as many user journeys as step runs (60% completed through all five steps, the rest stopped
after one to four, in three A/B variants, over 30 cohort days).
"""

import argparse
import logging
import time

from tests.perf.harness import Stopwatch, percentile, scratch_database, setup_django

JOURNEYS = 10
STEPS = ("welcome", "profile", "upload", "review", "launch")
DAYS = 30


def fill(*, step_runs: int) -> tuple[list[int], int]:
    """Write the journeys, participants, user journeys and step runs; returns the journey ids and
    a user journey id."""
    from django.db import connection

    from tests.journeys.factories import make_journey

    journeys = [
        make_journey(
            [{"key": k, "name": k.title(), "kind": "manual", "is_milestone": True} for k in STEPS],
            name=f"Bench journey {i}",
        )
        for i in range(JOURNEYS)
    ]
    per_journey = step_runs // 4 // JOURNEYS
    steps_sql = "ARRAY[" + ",".join(f"'{k}'" for k in STEPS) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO journeys_participant (user_id, attributes, tags, created_at, updated_at) "
            "SELECT 'bench-' || g, '{}', '[]', now(), now() FROM generate_series(1, %s) g",
            [per_journey],
        )
        cursor.execute("SELECT min(id) FROM journeys_participant")
        first_participant = cursor.fetchone()[0]
        for journey in journeys:
            # depth: how many steps the run went through (5 for completed ones).
            cursor.execute(
                f"""
                INSERT INTO journeys_userjourney (journey_id, version_id, participant_id, state,
                    enrolment_key, exclusive, current_step, last_seq, context, variant, converted,
                    end_reason, failure_reason, started_at, ended_at, updated_at)
                SELECT %(journey)s, %(version)s, %(first)s + g - 1, st.state, 'bench', true,
                    ({steps_sql})[st.depth], st.depth, '{{}}', (ARRAY['A','B','C'])[1 + g %% 3],
                    st.state = 'completed' AND g %% 2 = 0, '', '',
                    now() - make_interval(days => g %% {DAYS}, secs => g %% 86400),
                    CASE WHEN st.state IN ('active', 'paused') THEN NULL
                         ELSE now() - make_interval(days => g %% {DAYS}, secs => g %% 86400)
                              + make_interval(secs => 600 + (g * 7919) %% 200000) END,
                    now() - make_interval(days => g %% {DAYS}, secs => g %% 86400)
                FROM generate_series(1, %(n)s) g,
                LATERAL (SELECT CASE WHEN g %% 10 < 6 THEN 'completed'
                                     WHEN g %% 10 < 8 THEN 'active'
                                     WHEN g %% 10 < 9 THEN 'cancelled' ELSE 'failed' END AS state,
                                CASE WHEN g %% 10 < 6 THEN 5 ELSE 1 + g %% 4 END AS depth) st
                """,
                {
                    "journey": journey.pk,
                    "version": journey.live_version_id,
                    "first": first_participant,
                    "n": per_journey,
                },
            )
        cursor.execute(
            f"""
            INSERT INTO journeys_steprun (user_journey_id, participant_id, seq, step_key, step_kind,
                action_type, channel, status, entered, due_at, waiting_for, attempts, max_attempts,
                executed_at, finished_at, result, error, trace, rolled_back, created_at, dead_lettered_at)
            SELECT uj.id, uj.participant_id, s, ({steps_sql})[s], 'manual', '', '',
                CASE WHEN s < uj.last_seq OR uj.state = 'completed' THEN 'succeeded'
                     WHEN uj.state IN ('active', 'paused') THEN 'scheduled'
                     WHEN uj.state = 'failed' THEN 'failed' ELSE 'cancelled' END,
                true, uj.started_at + make_interval(secs => s * 120), '', 1, 3,
                uj.started_at + make_interval(secs => s * 120),
                CASE WHEN s < uj.last_seq OR uj.state <> 'active' THEN
                    uj.started_at + make_interval(secs => s * 120 + (uj.id * s * 104729) %% 90000) END,
                '{{}}', '', '{{}}', false, uj.started_at + make_interval(secs => (s - 1) * 120), NULL
            FROM journeys_userjourney uj, generate_series(1, uj.last_seq) s
            """,
            [],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM journeys_steprun")
        print(f"{cursor.fetchone()[0]:,} step runs, {per_journey * JOURNEYS:,} user journeys", flush=True)
        cursor.execute("SELECT max(id) FROM journeys_userjourney WHERE state = 'active'")
        user_journey_id = cursor.fetchone()[0]
    return [j.pk for j in journeys], user_journey_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="requests per endpoint")
    args = parser.parse_args()
    setup_django()
    logging.disable(logging.WARNING)

    from django.db import connection

    with scratch_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench_analytics fills its rows with Postgres SQL: set DATABASE_URL to Postgres")
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.utils import timezone

        from analytics.rollups import rollups_refresh
        from journeys.models import StepRun

        with Stopwatch() as fill_time:
            journey_ids, uj_id = fill(step_runs=args.step_runs)
        print(f"filled in {fill_time.seconds:.1f} s", flush=True)
        with Stopwatch() as full:
            result = rollups_refresh(full=True)
        print(f"rollups, full rebuild:        {full.seconds:.1f} s ({result.days} journey-days)", flush=True)
        # Two hundred waiting runs finish: the next refresh rebuilds only their cohort days.
        waiting = (
            StepRun.objects.filter(status="scheduled").order_by("-id").values_list("id", flat=True)[:200]
        )
        StepRun.objects.filter(pk__in=list(waiting)).update(status="succeeded", finished_at=timezone.now())
        with Stopwatch() as incremental:
            result = rollups_refresh()
        print(
            f"rollups, incremental refresh: {incremental.seconds:.1f} s ({result.days} journey-days)",
            flush=True,
        )

        user = get_user_model().objects.create_superuser(username="bench", password="bench-pw-1")
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        j = journey_ids[0]
        base = "/api/v1/analytics"
        endpoints = [
            f"{base}/journeys/{j}/metrics",
            f"{base}/journeys/{j}/completion-rate",
            f"{base}/journeys/{j}/average-duration",
            f"{base}/journeys/{j}/drop-off-points",
            f"{base}/journeys/{j}/funnel",
            f"{base}/journeys/{j}/performance",
            f"{base}/journeys/{j}/recommendations",
            f"{base}/journeys/{j}/variants",
            f"{base}/journeys/{j}/trend",
            f"{base}/journeys/compare?ids={','.join(map(str, journey_ids[:5]))}",
            f"{base}/benchmarks",
            f"{base}/milestones/{j}/upload",
            f"{base}/user-journeys/{uj_id}/progress",
            f"{base}/stages",
            f"{base}/rules",
            f"{base}/overdue",
            "/admin/",
            f"/admin/analytics/dashboard/?journey={j}",
        ]
        print(f"{'endpoint':<58} {'p50':>8} {'p95':>8}")
        worst = 0.0
        for url in endpoints:
            samples = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
            p95 = percentile(samples, 95)
            worst = max(worst, p95)
            print(f"{url:<58} {percentile(samples, 50):>6.1f}ms {p95:>6.1f}ms", flush=True)
        print(f"slowest p95: {worst:.1f} ms (target < 200 ms)")


if __name__ == "__main__":
    main()
