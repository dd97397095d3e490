"""Typed helpers that turn the environment into settings, raising ``ImproperlyConfigured`` on a
bad value. ``config/settings.py`` stays the one list of settings; what needs more than a line to
read, check or build (keys, the cache, the logging set-up) is written here.
"""

import base64
import ipaddress
import secrets
from pathlib import Path

import environ
import structlog
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def secret_key(*, production: bool, var_dir: Path) -> str:
    """The key from the environment; in development, one generated once and kept in ``var/``."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if production:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    key_file = var_dir / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def secrets_encryption_keys(*, production: bool, secret_key: str) -> list[str]:
    """Fernet keys for secrets at rest (webhook and agent signing secrets), newest first.

    ``SECRETS_ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys (make one with
    ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``);
    the first encrypts, all decrypt. Required in production; in development a key is derived
    from ``SECRET_KEY`` (HKDF-SHA256), so a fresh checkout works without configuration.
    """
    keys = env.list("SECRETS_ENCRYPTION_KEYS", default=[])
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                "SECRETS_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes)."
            ) from exc
    if keys:
        return keys
    if production:
        raise ImproperlyConfigured("SECRETS_ENCRYPTION_KEYS must be set when DJANGO_ENV=production")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"secrets-at-rest").derive(
        secret_key.encode()
    )
    return [base64.urlsafe_b64encode(derived).decode()]


def networks(name: str) -> list[str]:
    """A comma-separated list of CIDRs (or addresses) from ``name``, each checked."""
    values = env.list(name, default=[])
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {value!r} is not a network ({exc})") from exc
    return values


def redis_cache(url: str) -> dict:
    """The cache settings for a Redis at ``url`` (also what the fault tests point at their own)."""
    return {
        "BACKEND": "config.cache.FailOpenRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="jo"),
        "KEY_FUNCTION": "config.cache.namespaced_key",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 1,  # seconds; a slow cache is worse than none
            "SOCKET_TIMEOUT": 1,
            "RETRY_SECONDS": env.float("CACHE_RETRY_SECONDS", default=5.0),  # breaker pause
        },
    }


def logging_config(*, level: str, fmt: str, periodic_ticks: bool) -> dict:
    """``LOGGING``: one console handler, plain lines or one JSON object per line (``fmt``).

    Beat's once-a-second ticks are not logged at INFO unless ``periodic_ticks`` (to watch beat).
    """
    if fmt not in ("plain", "json"):
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {fmt!r}")
    quiet = {} if periodic_ticks else {"filters": ["quiet_ticks"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"quiet_ticks": {"()": "analytics.logs.QuietPeriodicTicks"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processor": structlog.processors.JSONRenderer(),
                "foreign_pre_chain": [
                    structlog.contextvars.merge_contextvars,  # request_id and other bound ids
                    structlog.processors.TimeStamper(fmt="iso"),
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                ],
            },
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Beat's once-a-second dispatcher tick: no line per tick at INFO.
            "celery.beat": quiet,
            "celery.app.trace": quiet,
            "celery.worker.strategy": quiet,
            "django_structlog": {"level": "WARNING"},  # not a line per request: gunicorn logs access
        },
    }


def structlog_configure() -> None:
    """structlog's own loggers (django-structlog's, ours) render through the logging set-up."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
