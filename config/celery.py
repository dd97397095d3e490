"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

import os
import sys

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready
from django.db import close_old_connections

from config import broker  # noqa: F401  (registers the embedded default's broker URL scheme)
from config.collector import tune_garbage_collection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("journey_orchestrator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _leave_the_process_group(**kwargs) -> None:
    """Take a pool process out of its worker's process group, so only its master stops it.

    Process managers (honcho, foreman) stop a program by signalling its whole process group, and
    Celery lets SIGTERM kill a pool process outright: the task it was running would die although
    the master, warm-shutting down, waits for it. In a group of their own the pool processes
    finish their tasks and are stopped by their master. On Linux they still die with it (Celery
    sets the parent-death signal); elsewhere nothing changes.
    """
    if sys.platform.startswith("linux"):
        os.setpgrp()


# Each process that executes tasks: the worker itself (solo and thread pools) and each process
# of a prefork pool.
worker_ready.connect(tune_garbage_collection)
worker_process_init.connect(tune_garbage_collection)


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task=None, **kwargs) -> None:
    """Around each task, close the database connections that broke or outlived ``CONN_MAX_AGE``,
    as Django does around each request; the others serve the next task.

    Celery itself would close every connection before and after every task, unless
    ``CELERY_DB_REUSE_MAX`` is set (it is): a worker would open a Postgres session per task and
    warm its caches again. An eager task runs inside its caller's transaction and is left alone.
    """
    if task is None or not getattr(task.request, "is_eager", False):
        close_old_connections()
