"""Platform surfaces: probes, the OpenAPI schema and docs, bootstrap, settings for production."""

import ast
import gc
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django_celery_beat.models import PeriodicTask

from config.beat import PERIODIC_TASKS
from journeys.models import EntityMapping

BASE_DIR = Path(__file__).resolve().parents[2]


def test_healthz_answers_anonymously(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_cache_and_broker(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) == {"database", "cache", "broker"}


@pytest.mark.django_db
def test_readyz_answers_503_when_the_broker_is_unreachable(api_client):
    from config.celery import app as celery_app

    real_url = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = api_client.get("/readyz")
    finally:
        celery_app.conf.broker_url = real_url
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "error"
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_a_worker_leaves_its_startup_out_of_garbage_collection_and_collects_less_often():
    from celery.signals import worker_ready

    from config.collector import YOUNG_COLLECTION_THRESHOLD

    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        worker_ready.send(sender=None)
        assert gc.get_freeze_count() > 10_000  # the modules, models and app loaded by now
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_web_worker_collects_as_a_celery_worker_does_once_it_has_loaded_the_app():
    from config import gunicorn
    from config.collector import YOUNG_COLLECTION_THRESHOLD

    procfile = (BASE_DIR / "Procfile").read_text()
    assert "gunicorn -c python:config.gunicorn config.wsgi" in procfile
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        gunicorn.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.postgres
@pytest.mark.django_db
def test_timestamps_are_read_by_psycopgs_compiled_parser_as_djangos_would_read_them():
    from django.db import connection
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    from config.postgres.base import TIMESTAMPTZ_OID

    literals = [
        "2026-12-07 18:40:29.123456+00",
        "1999-12-31 23:59:59.999999-03:30",
        "2024-02-29 00:00:00+05:45",
        "0044-03-15 12:00:00+00",
    ]
    query = "SELECT " + ", ".join(f"'{literal}'::timestamptz" for literal in literals)
    with connection.cursor() as cursor:
        loader = cursor.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        compiled = loader(TIMESTAMPTZ_OID, cursor.connection)._load
        cursor.execute(query)
        ours = cursor.fetchone()
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own, on this cursor only
        cursor.execute(query)
        djangos = cursor.fetchone()

    assert type(compiled.__self__).__module__.startswith(("psycopg_binary", "psycopg_c"))
    assert ours == djangos
    assert [value.tzinfo for value in ours] == [value.tzinfo for value in djangos]
    assert all(value.tzinfo is connection.timezone for value in ours)


def test_the_openapi_schema_validates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.django_db
def test_the_docs_are_served_with_local_assets(api_client):
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    # Nothing is loaded from elsewhere: no outside address (a random token such as the CSRF one
    # may spell "cdn", but never with a dot after it).
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert not [source for source in sources if source.startswith(("http", "//"))]
    assert "cdn." not in html.lower() and "unpkg" not in html.lower()
    assert api_client.get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_bootstrap_is_idempotent_and_creates_the_admin_and_schedule(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    for _ in range(2):
        call_command("bootstrap", stdout=StringIO())

    boss = get_user_model().objects.get(username="boss")
    assert boss.is_superuser and boss.check_password("a-long-password-1")
    assert EntityMapping.objects.filter(entity="program_enrollments", key_field="enrollment_id").count() == 1
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= {t.task for t in PERIODIC_TASKS}
    assert PeriodicTask.objects.count() == len({t.name for t in PERIODIC_TASKS})


@pytest.mark.django_db
def test_migrating_writes_the_beat_schedule():
    PeriodicTask.objects.all().delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {t.name for t in PERIODIC_TASKS}


@pytest.mark.django_db
def test_bootstrap_syncs_the_schedule_before_loading_defaults():
    PeriodicTask.objects.all().delete()
    out = StringIO()

    call_command("bootstrap", "--no-admin", "--no-demo", stdout=out)

    first_line = out.getvalue().splitlines()[0]
    assert first_line == f"periodic tasks: {len(PERIODIC_TASKS)} created"


# Which of our packages each app may import (DESIGN: journeys is the core; analytics reads all).
ALLOWED_IMPORTS = {
    "journeys": set(),
    "rules": {"journeys"},
    "stages": {"journeys"},
    "workspace": {"journeys"},
    "analytics": {"journeys", "rules", "stages", "workspace"},
}


def _imported_packages(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module.split(".")[0]]
    return []


def test_imports_go_one_way():
    """No app imports ``config`` (config's AppConfig wires them), and each imports only the apps
    the map allows: journeys none, rules/stages/workspace journeys, analytics all of them."""
    ours = {"config", *ALLOWED_IMPORTS}
    offenders = []
    for app, allowed in ALLOWED_IMPORTS.items():
        for path in (BASE_DIR / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                for package in _imported_packages(node):
                    if package in ours and package != app and package not in allowed:
                        offenders.append(f"{path.relative_to(BASE_DIR)}:{node.lineno} imports {package}")
    assert offenders == []


@pytest.mark.django_db
def test_bootstrap_generates_and_prints_a_password_once(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    first, second = StringIO(), StringIO()
    call_command("bootstrap", "--no-demo", stdout=first)
    call_command("bootstrap", "--no-demo", stdout=second)

    password = first.getvalue().split("password '")[1].split("'")[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert password not in second.getvalue()


@pytest.mark.django_db
def test_a_periodic_task_staff_disabled_stays_disabled():
    call_command("bootstrap", "--no-admin", "--no-demo", stdout=StringIO())
    PeriodicTask.objects.filter(task="journeys.events_sweep").update(enabled=False)
    call_command("bootstrap", "--no-admin", "--no-demo", stdout=StringIO())
    assert not PeriodicTask.objects.get(task="journeys.events_sweep").enabled


def test_production_settings_pass_the_deploy_check():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-0123456789-abcdefgh",
        "ALLOWED_HOSTS": "journeys.example.com",
        "SECRETS_ENCRYPTION_KEYS": "Pk0gRr7sLPB7VDchW4xxzHgfr5GGFvp3gyMUwQr2Axg=",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_ENV"] = "production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_the_demo_publishes_a_journey_that_runs_and_sends_its_first_email(
    django_capture_on_commit_callbacks, mailoutbox, admin_api
):
    from journeys.models import Event, Journey, UserJourney

    with django_capture_on_commit_callbacks(execute=True):
        call_command("bootstrap", "--no-admin", stdout=StringIO())

    demo = Journey.objects.get(name="Demo: welcome tour")
    assert demo.state == Journey.State.PUBLISHED
    assert UserJourney.objects.filter(journey=demo).count() == 3
    assert sorted(m.subject for m in mailoutbox) == ["Welcome, Ada!", "Welcome, Grace!", "Welcome, Linus!"]
    assert not Event.objects.exclude(status=Event.Status.PROCESSED).exists()
    flags = admin_api.get("/api/v1/journey/flags/demo-ada").json()["flags"]
    assert [f["flag"] for f in flags if f["value"] is True] == ["mentor_ready"]

    events_before = Event.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("bootstrap", "--no-admin", stdout=StringIO())
    assert Event.objects.count() == events_before
    assert UserJourney.objects.filter(journey=demo).count() == 3
