"""Workspace benchmark, against seed 004's targets, on a scratch Postgres database.

1. Fills ``--journeys`` user journeys (10,000), each with 50 comments, 20 attachments, 30 costs
   and 10 decisions (1.1M rows), then calls the workspace API in process for ``--samples`` random
   journeys: p50/p95 per endpoint (aim p95 < 200 ms) and the slowest SQL statement (aim < 50 ms).
2. Uploads: 20 clients upload 10 MB images at once over real HTTP (gunicorn): success rate
   (aim > 99%) and p95 time per upload.
3. Export: a journey with 60 steps run, 40 decisions and 36 images rendered to PDF: pages and
   seconds (aim: 20 pages in < 10 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/journeys \\
        .venv/bin/python -m tests.perf.bench_workspace --journeys 10000

It prints the load average first (other work on the machine slows every figure) and writes its
figures to ``var/bench/workspace-<time>.json``.
"""

import argparse
import io
import json
import os
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tests.perf.harness import percentile, scratch_database, setup_django

BASE_DIR = Path(__file__).resolve().parents[2]
ENDPOINTS = [
    "workspace",
    "attachments",
    "comments",
    "decisions",
    "budget",
    "quotes",
    "costs",
    "activity",
    "tasks",
    "conversations/resume",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200, help="journeys whose endpoints are timed")
    parser.add_argument("--uploads", type=int, default=20, help="concurrent 10 MB uploads")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["WORKSPACE_UPLOAD_RATE"] = "100000/min"
    os.environ["WORKSPACE_MAX_UPLOAD_MB"] = "20"
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark measures Postgres: set DATABASE_URL=postgres://…")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    results: dict = {"load_average": os.getloadavg(), "journeys": args.journeys}
    with scratch_database():
        owner_ids = _fill(args.journeys)
        results["api"] = _time_api(random.sample(owner_ids, min(args.samples, len(owner_ids))))
        results["uploads"] = _uploads(args, connection.settings_dict["NAME"], owner_ids[0])
        results["export"] = _export()
        connection.close()
    out = BASE_DIR / "var" / "bench" / f"workspace-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"figures written to {out.relative_to(BASE_DIR)}")


def _fill(count: int) -> list[tuple[int, str]]:
    """Rows in bulk: one journey, ``count`` participants with a user journey and a workspace each."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from journeys.models import JourneyVersion, Participant, UserJourney
    from tests.journeys.factories import make_journey
    from tests.workspace.conftest import RENOVATION_STEPS, image_bytes
    from workspace.models import Activity, Attachment, Comment, Decision, Expense, Workspace

    started = time.perf_counter()
    journey = make_journey(RENOVATION_STEPS, name="Kitchen renovation", trigger_type="", re_entry="always")
    version = JourneyVersion.objects.filter(journey=journey).first()
    picture = default_storage.save("workspace/bench/picture.png", ContentFile(image_bytes()))
    now = timezone.now()
    users = get_user_model()
    chunk = 500  # user journeys per round of bulk inserts (~55,000 rows)
    owners: list[tuple[int, str]] = []
    for offset in range(0, count, chunk):
        ids = [f"bench-{n}" for n in range(offset, min(count, offset + chunk))]
        users.objects.bulk_create([users(username=user_id) for user_id in ids])
        participants = Participant.objects.bulk_create([Participant(user_id=user_id) for user_id in ids])
        runs = UserJourney.objects.bulk_create(
            [
                UserJourney(
                    journey=journey,
                    version=version,
                    participant=p,
                    enrolment_key=f"bench-{p.pk}",
                    current_step="quotes",
                    started_at=now,
                )
                for p in participants
            ]
        )
        spaces = Workspace.objects.bulk_create([Workspace(user_journey=run) for run in runs])
        Comment.objects.bulk_create(
            [Comment(workspace=w, body=f"comment {i} about the cabinets") for w in spaces for i in range(50)]
        )
        Attachment.objects.bulk_create(
            [
                Attachment(
                    workspace=w, kind="image", file=picture, filename=f"photo-{i}.png",
                    content_type="image/png", size=1000, sha256=uuid.uuid4().hex * 2, width=64, height=48,
                    phash=f"{i:016x}",
                )
                for w in spaces
                for i in range(20)
            ]
        )  # fmt: skip
        Expense.objects.bulk_create(
            [
                Expense(
                    workspace=w, category=f"cat-{i % 5}", description=f"item {i}", amount=Decimal("12.50"),
                    currency="EUR", spent_on=date(2026, 1, 1) + timedelta(days=i),
                )
                for w in spaces
                for i in range(30)
            ]
        )  # fmt: skip
        Decision.objects.bulk_create(
            [Decision(workspace=w, question=f"question {i}", chosen="yes") for w in spaces for i in range(10)]
        )
        Activity.objects.bulk_create(
            [Activity(workspace=w, verb="comment.posted", summary="…") for w in spaces for _ in range(20)]
        )
        owners += [(run.pk, run.participant.user_id) for run in runs]
        print(
            f"  filled {len(owners):,}/{count:,} journeys ({time.perf_counter() - started:.0f} s)", flush=True
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return owners


def _time_api(sample: list[tuple[int, str]]) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    users = {u.username: u for u in get_user_model().objects.filter(username__in=[o for _, o in sample])}
    timings: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    statements: list[float] = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - began) * 1000)

    print(f"API, in process, {len(sample)} journeys x {len(ENDPOINTS)} endpoints:")
    with connection.execute_wrapper(timed):
        for run_id, owner in sample:
            client = APIClient(SERVER_NAME="127.0.0.1")
            client.force_authenticate(users[owner])
            for name in ENDPOINTS:
                began = time.perf_counter()
                response = client.get(f"/api/v1/user-journeys/{run_id}/{name}")
                timings[name].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, (name, response.status_code)
    report = {}
    for name, samples in timings.items():
        report[name] = {"p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95)}
        print(f"  {name:<22} p50 {report[name]['p50_ms']:6.1f} ms   p95 {report[name]['p95_ms']:6.1f} ms")
    worst = max(report.values(), key=lambda r: r["p95_ms"])["p95_ms"]
    print(f"  slowest endpoint p95 {worst:.1f} ms (aim < 200 ms)")
    print(f"  SQL: {len(statements):,} statements, p95 {percentile(statements, 95):.2f} ms, "
          f"slowest {max(statements):.1f} ms (aim < 50 ms)")  # fmt: skip
    return {"endpoints": report, "sql_p95_ms": percentile(statements, 95), "sql_max_ms": max(statements)}


def _ten_megabyte_image() -> bytes:
    from PIL import Image

    noise = Image.frombytes("RGB", (2600, 1400), os.urandom(2600 * 1400 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=1)  # random pixels do not compress: ~10.9 MB
    return out.getvalue()


def _uploads(args, database: str, first: tuple[int, str]) -> dict:
    import httpx
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.perf.bench_ingest import _start_gunicorn

    run_id, owner = first
    token = str(RefreshToken.for_user(get_user_model().objects.get(username=owner)).access_token)
    content = _ten_megabyte_image()
    server = _start_gunicorn(args.port, 4, database)
    try:

        def one(n: int) -> tuple[int, float]:
            began = time.perf_counter()
            response = httpx.post(
                f"http://127.0.0.1:{args.port}/api/v1/user-journeys/{run_id}/attachments",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (f"big-{n}.png", content, "image/png")},
                timeout=120,
            )
            return response.status_code, time.perf_counter() - began

        with ThreadPoolExecutor(args.uploads) as pool:
            outcomes = list(pool.map(one, range(args.uploads)))
    finally:
        server.terminate()
        server.wait(20)
    ok = sum(1 for status, _ in outcomes if status == 201)
    seconds = [s for _, s in outcomes]
    print(f"uploads: {len(content) / 1e6:.1f} MB x {args.uploads} at once: {ok}/{args.uploads} succeeded "
          f"({100 * ok / args.uploads:.0f}%, aim > 99%), p95 {percentile(seconds, 95):.1f} s")  # fmt: skip
    return {"bytes": len(content), "sent": args.uploads, "succeeded": ok, "p95_s": percentile(seconds, 95)}


def _export() -> dict:
    from django.core.files.base import ContentFile

    from journeys.models import StepRun, UserJourney
    from tests.workspace.conftest import image_bytes
    from workspace.models import Attachment, BeforeAfterPair, Decision, Export, Workspace
    from workspace.services.exports import export_render

    run = UserJourney.objects.order_by("id").first()
    workspace = Workspace.objects.get(user_journey=run)
    StepRun.objects.bulk_create(
        [
            StepRun(
                user_journey=run, participant=run.participant, seq=n, step_key=f"step-{n}", step_kind="manual"
            )
            for n in range(1, 61)
        ]
    )
    Decision.objects.bulk_create(
        [
            Decision(workspace=workspace, question=f"Choice {n}", chosen="A", reasoning="r" * 200)
            for n in range(40)
        ]
    )
    images = []
    for n in range(36):
        image = Attachment(
            workspace=workspace, kind="image", filename=f"p{n}.png", content_type="image/png", size=1,
            sha256=uuid.uuid4().hex * 2, width=640, height=480,
        )  # fmt: skip
        image.file.save(f"p{n}.png", ContentFile(image_bytes(size=(640, 480), color=(n * 7 % 255, 90, 160))))
        images.append(image)
    Attachment.objects.filter(workspace=workspace).exclude(pk__in=[i.pk for i in images]).delete()
    for before, after in zip(images[:6], images[6:12], strict=True):
        BeforeAfterPair.objects.create(workspace=workspace, before=before, after=after)
    export = Export.objects.create(workspace=workspace)
    began = time.perf_counter()
    export = export_render(export_id=export.pk)
    seconds = time.perf_counter() - began
    print(f"export: {export.pages} pages in {seconds:.1f} s (aim: 20 pages in < 10 s)")
    return {"pages": export.pages, "seconds": seconds}


if __name__ == "__main__":
    main()
