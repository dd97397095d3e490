"""Settings, read from the environment (12-factor).

Two deployment shapes share this file:

* the embedded default (nothing set): SQLite in ``var/``, a file-based Celery broker in
  ``var/broker`` (``config/broker.py``), a file-based cache in ``var/cache``: web, worker and beat
  on one machine with no services to run;
* production (``DJANGO_ENV=production``): ``DATABASE_URL`` (Postgres), ``REDIS_URL`` (cache and
  broker), a mandatory ``SECRET_KEY`` and ``SECRETS_ENCRYPTION_KEYS``, and the secure-transport
  flags that ``check --deploy`` asks for.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import environment
from config.environment import env

BASE_DIR = environment.BASE_DIR

# --------------------------------------------------------------------------------------------
# Deployment shape
# --------------------------------------------------------------------------------------------
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

# Local state of the embedded default (database, broker, cache, generated key). Importing
# settings makes no folder (only a missing development key is written, below): bin/run and the
# broker, when a channel opens, make the ones they use.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = environment.secret_key(production=PRODUCTION, var_dir=VAR_DIR)
# Fernet keys for secrets at rest, newest first (see config.environment.secrets_encryption_keys).
SECRETS_ENCRYPTION_KEYS = environment.secrets_encryption_keys(production=PRODUCTION, secret_key=SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "django_structlog",
    "django_filters",
    "config",  # the wiring: beat's schedule, bootstrap's first step (before the apps)
    "journeys",
    "rules",
    "stages",
    "analytics",
    "workspace",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "journeys.api.http.ApiRequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",  # a request id on every log line of a request
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions take the write
    # lock up front so two processes queue for it instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, reading timestamps with psycopg's compiled parser (see the module).
        DATABASES["default"]["ENGINE"] = "config.postgres"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------------------------
# Cache (Redis when configured; otherwise a file cache every local process shares)
# --------------------------------------------------------------------------------------------
# The cache is never the source of truth: with Redis down, reads miss and writes are dropped
# (logged once per outage, counted), and the API keeps answering from the database. Keys carry
# the database they describe (``config.cache.namespaced_key``), so a benchmark's or a test's
# scratch database never shares a deployment's entries.
REDIS_URL = env.str("REDIS_URL", default="")


if REDIS_URL:
    CACHES = {"default": environment.redis_cache(REDIS_URL)}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_FUNCTION": "config.cache.namespaced_key",
        }
    }

# --------------------------------------------------------------------------------------------
# Celery (Redis when configured; otherwise kombu's filesystem transport)
# --------------------------------------------------------------------------------------------
# Correctness never depends on the broker: unprocessed events and due step runs live in the
# database, and beat sweepers re-dispatch whatever a lost message or a killed worker dropped.
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 1  # seconds; the step dispatcher ticks every second
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# Tasks between connections Celery closes regardless; around each task, config.celery closes
# only the broken and the aged ones (CONN_MAX_AGE, CONN_HEALTH_CHECKS), as Django does per request.
CELERY_DB_REUSE_MAX = 1000
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ACKS_LATE = True
    CELERY_TASK_REJECT_ON_WORKER_LOST = True
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),  # seconds
    }
else:
    # kombu's filesystem transport, repaired (config/broker.py): messages appear whole or not at
    # all, so a reader can never see a half-written file. Its folders are made when it starts.
    CELERY_BROKER_URL = "embedded://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder": str(VAR_DIR / "broker"),
        "polling_interval": 0.1,  # seconds
    }

# --------------------------------------------------------------------------------------------
# The event bus
# --------------------------------------------------------------------------------------------
EVENT_BATCH_MAX = 1000  # events per POST /api/v1/events
EVENT_MAX_ATTEMPTS = env.int("EVENT_MAX_ATTEMPTS", default=8)
EVENT_RETRY_BASE_SECONDS = env.int("EVENT_RETRY_BASE_SECONDS", default=5)
# An event still pending this long after it was received lost its dispatch message.
EVENT_SWEEP_AFTER_SECONDS = env.int("EVENT_SWEEP_AFTER_SECONDS", default=30)
# A worker holds an event this long; past it, the event counts as abandoned (the worker died).
EVENT_LEASE_SECONDS = env.int("EVENT_LEASE_SECONDS", default=300)
EVENT_SWEEP_BATCH = 1000  # events re-dispatched per sweep
# Extra subscribers without writing an app: "pattern=dotted.path.to.handler", comma-separated.
EVENT_SUBSCRIBERS = env.list("EVENT_SUBSCRIBERS", default=[])

# --------------------------------------------------------------------------------------------
# Staged lifecycles
# --------------------------------------------------------------------------------------------
STAGES_TASK_LEASE_SECONDS = env.int("STAGES_TASK_LEASE_SECONDS", default=300)
STAGES_TASK_SWEEP_AFTER_SECONDS = env.int("STAGES_TASK_SWEEP_AFTER_SECONDS", default=30)
STAGES_HISTORY_RETENTION_DAYS = env.int("STAGES_HISTORY_RETENTION_DAYS", default=730)  # seed: 2 years
STAGES_MAX_RETRY_DELAY_SECONDS = env.int("STAGES_MAX_RETRY_DELAY_SECONDS", default=3600)

# --------------------------------------------------------------------------------------------
# Outbound HTTP (webhooks, providers, agent endpoints)
# --------------------------------------------------------------------------------------------
# Internal addresses are refused unless listed here: hosts or CIDRs, comma-separated.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Webhook subscriptions (journey events to staff's endpoints): tries per delivery, the backoff's
# first delay, and how many failed tries in a row disable a subscription.
WEBHOOK_SUBSCRIPTION_MAX_ATTEMPTS = env.int("WEBHOOK_SUBSCRIPTION_MAX_ATTEMPTS", default=8)
WEBHOOK_SUBSCRIPTION_RETRY_BASE_SECONDS = env.float("WEBHOOK_SUBSCRIPTION_RETRY_BASE_SECONDS", default=10.0)
WEBHOOK_SUBSCRIPTION_DISABLE_AFTER = env.int("WEBHOOK_SUBSCRIPTION_DISABLE_AFTER", default=20)

# --------------------------------------------------------------------------------------------
# The journey engine (step runs, the dispatcher, message channels)
# --------------------------------------------------------------------------------------------
# Runs claimed per statement, and recorded in one transaction (~2 MB of rows). Larger batches
# spread each transaction's fixed cost (its commit, a score of statements) over more runs.
STEP_DISPATCH_BATCH = env.int("STEP_DISPATCH_BATCH", default=1000)
# One dispatcher tick drains due runs for at most this long before leaving the rest to the next.
STEP_DISPATCH_BUDGET_SECONDS = env.float("STEP_DISPATCH_BUDGET_SECONDS", default=10.0)
# A worker holds a running step this long; past it, the worker is taken for dead and the run is
# claimed again (with the same idempotency key). Longer than the slowest action's timeout.
STEP_LEASE_SECONDS = env.int("STEP_LEASE_SECONDS", default=120)
STEP_RETRY_BASE_SECONDS = env.int("STEP_RETRY_BASE_SECONDS", default=30)  # first retry after ~this
STEP_RETRY_MAX_SECONDS = env.int("STEP_RETRY_MAX_SECONDS", default=3600)
STEP_EXECUTION_THREADS = env.int("STEP_EXECUTION_THREADS", default=16)  # concurrent HTTP/SMTP actions
# "wait until 09:00 local" and quiet hours use the participant's `timezone` attribute, else this.
JOURNEY_DEFAULT_TIMEZONE = env.str("JOURNEY_DEFAULT_TIMEZONE", default="UTC")
# Messages per participant and channel across journeys, e.g. JOURNEY_FREQUENCY_CAPS=email=3/day,push=5/day
JOURNEY_FREQUENCY_CAPS = env.dict("JOURNEY_FREQUENCY_CAPS", default={})
PUSH_PROVIDER_URL = env.str("PUSH_PROVIDER_URL", default="")  # receives {user_id, tokens, title, body, data}
PUSH_PROVIDER_TOKEN = env.str("PUSH_PROVIDER_TOKEN", default="")  # sent as a Bearer token
TELEGRAM_API_BASE = env.str("TELEGRAM_API_BASE", default="https://api.telegram.org")
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")

# --------------------------------------------------------------------------------------------
# Auth and the API
# --------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "journeys.api.auth.ApiKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "journeys.api.permissions.ApiKeyScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="6000/min"),
        "ingest": env.str("API_THROTTLE_INGEST", default="60000/min"),
        "uploads": env.str("WORKSPACE_UPLOAD_RATE", default="60/min"),
    },
    # JSON only, bounded (size, depth, NUL, finite numbers): see journeys/api/parsers.py.
    "DEFAULT_PARSER_CLASSES": ["journeys.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["journeys.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "journeys.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "journeys.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "journeys.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "SIGNING_KEY": SECRET_KEY,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Journey Orchestration API",
    "DESCRIPTION": (
        "Events in; journeys, rules, flags, milestones and staged lifecycles out. Authenticate with "
        "a JWT (`/api/v1/auth/token/`) or an API key (`Authorization: Api-Key <key>`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "AttachmentKindEnum": "workspace.models.files.Attachment.Kind",
        "SharedRoleEnum": "workspace.models.collaboration.SHARED_ROLE_CHOICES",
        "MilestoneStatusEnum": "journeys.api.serializers.milestones.MILESTONE_STATUSES",
        "StageEnum": "stages.models.stages.Stage",
        "PipelineStageEnum": "stages.models.stages.PIPELINE_STAGE_CHOICES",
        "CriterionKindEnum": "stages.models.pipelines.ExitCriterion.Kind",
        "TaskTemplatePurposeEnum": "stages.models.pipelines.TaskTemplate.Purpose",
        "ServiceKindEnum": "journeys.models.directory.Service.Kind",
        "ServiceHealthEnum": "journeys.models.directory.Service.Health",
    },
}

# --------------------------------------------------------------------------------------------
# Email
# --------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="journeys@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who is alerted by e-mail when something needs a person (a webhook subscription disabled).
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]

# --------------------------------------------------------------------------------------------
# Internationalisation and static files
# --------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))  # made by collectstatic
# Uploaded files: the local filesystem under MEDIA_ROOT, or an S3-compatible store through
# django-storages (FILE_STORAGE_BACKEND=storages.backends.s3.S3Storage, with boto3 installed and
# AWS_STORAGE_BUCKET_NAME / AWS_S3_ENDPOINT_URL / credentials in the environment).
STORAGES = {
    "default": {
        "BACKEND": env.str("FILE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)

# --------------------------------------------------------------------------------------------
# Participants' workspaces
# --------------------------------------------------------------------------------------------
WORKSPACE_MAX_UPLOAD_BYTES = env.int("WORKSPACE_MAX_UPLOAD_MB", default=20) * 1024 * 1024
WORKSPACE_RETENTION_DAYS = env.int("WORKSPACE_RETENTION_DAYS", default=30)  # soft-deleted rows kept
WORKSPACE_SEARCH_PROVIDER_URL = env.str("WORKSPACE_SEARCH_PROVIDER_URL", default="")

# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")  # plain | json (one JSON object per line)
LOGGING = environment.logging_config(
    level=LOG_LEVEL, fmt=LOG_FORMAT, periodic_ticks=env.bool("LOG_PERIODIC_TICKS", default=False)
)
environment.structlog_configure()
# What a worker prints (the console email backend) is information, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"

# --------------------------------------------------------------------------------------------
# Metrics (/metrics, Prometheus text format)
# --------------------------------------------------------------------------------------------
# Scrapers present "Authorization: Bearer <METRICS_TOKEN>" or come from METRICS_ALLOWED_NETWORKS
# (CIDRs); staff with the analytics permission may look too. Nobody else.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = environment.networks("METRICS_ALLOWED_NETWORKS")
PROMETHEUS_EXPORT_MIGRATIONS = False  # no database query at start-up
# PROMETHEUS_MULTIPROC_DIR (an environment variable, read by prometheus_client at import) makes
# every gunicorn and Celery process write its counters there; bin/run and the Procfile set it to
# var/prometheus and empty it at start.

# --------------------------------------------------------------------------------------------
# Production hardening (what `manage.py check --deploy` asks for)
# --------------------------------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_REFERRER_POLICY = "same-origin"
