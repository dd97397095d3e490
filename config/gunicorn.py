"""gunicorn's settings for the web process: ``gunicorn -c python:config.gunicorn config.wsgi``."""

from config.collector import tune_garbage_collection


def post_worker_init(worker) -> None:
    """Once a web worker has loaded the application, collect as a Celery worker does
    (``config.collector``): an ingest request of 1,000 events keeps thousands of objects alive."""
    tune_garbage_collection()
