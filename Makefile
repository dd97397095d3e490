.PHONY: run test lint install bench

run:  ## install, migrate, bootstrap, start web + worker + beat
	bin/run

test:  ## the whole test suite
	bin/test

install:
	bin/setup

lint:
	.venv/bin/ruff check .
	.venv/bin/python manage.py makemigrations --check --dry-run

bench:  ## ingestion benchmark against a scratch Postgres database (see README, Performance)
	.venv/bin/python -m tests.perf.bench_ingest
