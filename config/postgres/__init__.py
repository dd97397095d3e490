"""Django's PostgreSQL backend, reading ``timestamptz`` columns with psycopg's compiled loader
(``config.postgres.base``)."""
