"""Settings, read from the environment (django-environ).

Every setting a deployer may change is listed, with its default, in the
README's "Settings" table. Defaults give the embedded set-up: SQLite and the
in-memory channel layer, one process.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets admin.ModelAdmin[Model] and other generic classes be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if ENV_FILE.exists():
    environ.Env.read_env(ENV_FILE, overwrite=False)

# --- Security. Off DEBUG (the default) the process refuses to start without its
# own keys, and cookies, HSTS and the CSP are those of production; `make serve`
# sets DEBUG=true for the demo. The README lists the production environment.
DEBUG = env.bool("DEBUG", default=False)
# Known to everyone who has the source: accepted only under DEBUG.
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-in-production-0123456789"
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env.str("SECRET_KEY", default="") or (DEV_SECRET_KEY if DEBUG else "")
# Signs access tokens (HS256). A key of its own, so that rotating one logs out
# sessions or tokens, not both, and a leak of one does not give the other.
JWT_SECRET = env.str("JWT_SECRET", default="") or (DEV_JWT_SECRET if DEBUG else "")
if not DEBUG:
    if SECRET_KEY in ("", DEV_SECRET_KEY):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a secret value when DEBUG is false "
            "(DEBUG=true runs the demo with a development key)"
        )
    if JWT_SECRET in ("", DEV_SECRET_KEY, DEV_JWT_SECRET, SECRET_KEY) or len(JWT_SECRET) < 32:
        raise ImproperlyConfigured(
            "JWT_SECRET must be set when DEBUG is false: a secret of at least 32 "
            "characters, not the development key and not SECRET_KEY"
        )
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
# Sent only over HTTPS, so a plain-HTTP run is unaffected.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Off by default: a TLS proxy in front usually redirects itself, and a process
# without TLS would redirect to nothing. Load balancers probe /healthz over HTTP.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Secure cookies are never sent back over plain HTTP: on unless DEBUG.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# The header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto).
# Opt-in: trust it only when the proxy always sets it and clients cannot reach
# the process directly. HTTP requests and WebSocket handshakes both honour it.
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
# Content-Security-Policy of every HTML response (realtime.csp); empty: none sent.
# Pages load their scripts and styles from /static/ only: no inline script.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)
# Error reports (the DEBUG page, mails to ADMINS) hide passwords inside URLs (REDIS_URL).
DEFAULT_EXCEPTION_REPORTER_FILTER = "realtime.error_reports.ErrorReportFilter"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "realtime",
    "chat",
    "notifications",
    "collab",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "realtime.throttling.PageWriteThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "realtime.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "realtime.urls"
ASGI_APPLICATION = "realtime.asgi.application"

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

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue
    # instead of failing with "database is locked" on upgrade.
    # WAL lets readers run beside the writer; synchronous=NORMAL is durable
    # across application crashes in WAL mode and spares an fsync per commit.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # One process serves every socket: keep its connections open between calls.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # Tests share the database with daphne subprocesses, so it must be a file.
    # One file per test run, so that runs side by side do not share it.
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}
else:
    # Under ASGI every request may run on a thread of its own, so persistent
    # per-thread connections pile up; a pool shared by all threads does not.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Each connection is checked (an empty query) as it leaves the pool: after a
    # database restart the pool's old connections are dropped there, not handed
    # to one request after another to fail.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_SIZE", default=20),
        # How long a call waits for a connection. The ORM threads never outnumber
        # the connections, so a call waits only while none can be made (the
        # database is away): it then fails (`unavailable`) instead of hanging.
        "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
    }
    if env.str("TEST_DB_NAME", default=""):
        DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DB_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer. With REDIS_URL: channels-redis' pub/sub layer (see
# docs/channel-layer.md for why pub/sub and not the core layer).
REDIS_URL: str | None = env.str("REDIS_URL", default=None)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="rt")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#using-argon2-with-django
PASSWORD_HASHERS: list[str] = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:room-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Static files are served by the app itself (WhiteNoise), from STATICFILES_DIRS
# without a collectstatic step, so `daphne` alone serves a complete site.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# STATIC_ROOT exists only after an optional `collectstatic`; without it WhiteNoise
# serves the same files through the finders, so its start-up warning says nothing.
warnings.filterwarnings("ignore", message=f"No directory at: {STATIC_ROOT}", category=UserWarning)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "realtime.tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Any JSON body that cannot be parsed (nested too deep) or holds what no field
    # takes (a lone surrogate, 1e999) is a 400 parse error (realtime/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "realtime.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "realtime.api.error_handler",
    # Writes share the user's message bucket with their sockets (realtime/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["realtime.throttling.WriteThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Realtime API",
    "DESCRIPTION": "REST side of the realtime platform; WebSockets: docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from this site (the sidecar package), not a CDN: the
    # Content-Security-Policy allows no script from elsewhere.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Realtime limits (PROTOCOL.md "Limits"); every one can be set from the environment.
JWT_TTL_SECONDS = env.int("JWT_TTL_SECONDS", default=3600)
RATE_LIMIT_PER_SECOND = env.float("RATE_LIMIT_PER_SECOND", default=10.0)
RATE_LIMIT_BURST = env.int("RATE_LIMIT_BURST", default=20)
# Failed logins (API token, login page, admin) in a window, per username and per client
# address (an IPv6 /64); only failures count. Over either, logins are refused until the
# window, which opens at the first failure, ends.
LOGIN_FAILURES_PER_USERNAME = env.int("LOGIN_FAILURES_PER_USERNAME", default=5)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=100)
LOGIN_FAILURES_WINDOW_SECONDS = env.int("LOGIN_FAILURES_WINDOW_SECONDS", default=15 * 60)
# Consecutive rate-limited frames after which the socket is closed with 4429.
RATE_LIMIT_FLOOD_CLOSE = env.int("RATE_LIMIT_FLOOD_CLOSE", default=50)
MAX_SOCKETS_PER_IP = env.int("MAX_SOCKETS_PER_IP", default=1000)
MAX_SOCKETS_PER_USER = env.int("MAX_SOCKETS_PER_USER", default=50)
MAX_FRAME_BYTES = env.int("MAX_FRAME_BYTES", default=64 * 1024)
# Frames queued for one socket that does not read before it is dropped (4013).
MAX_OUTBOX_FRAMES = env.int("MAX_OUTBOX_FRAMES", default=1000)
# Unsent bytes daphne may hold for one socket, beyond the largest frame among them,
# before dropping it (it stopped reading).
MAX_SEND_BUFFER_BYTES = env.int("MAX_SEND_BUFFER_BYTES", default=4 * 1024 * 1024)
CONNECTION_TTL_SECONDS = env.int("CONNECTION_TTL_SECONDS", default=24 * 3600)
HEARTBEAT_SECONDS = env.float("HEARTBEAT_SECONDS", default=10.0)
# A process whose heartbeat is older than this is dead; its sockets are swept.
PROCESS_TIMEOUT_SECONDS = env.float("PROCESS_TIMEOUT_SECONDS", default=30.0)

# Thresholds of Python's cyclic garbage collector in a server process (see asgi.py).
GC_THRESHOLDS = tuple(env.list("GC_THRESHOLDS", cast=int, default=[50_000, 20, 100]))

# `retry_after_ms` of an `unavailable` error (the database or Redis is away).
UNAVAILABLE_RETRY_MS = env.int("UNAVAILABLE_RETRY_MS", default=1000)

# Told to stop, a daphne process closes its sockets with 1012 and waits this long at most
# for their close handshakes (uvicorn: its own --timeout-graceful-shutdown).
SHUTDOWN_DRAIN_SECONDS = env.float("SHUTDOWN_DRAIN_SECONDS", default=5.0)

# Presence changes of one target are gathered this long into one frame.
PRESENCE_BATCH_SECONDS = env.float("PRESENCE_BATCH_SECONDS", default=0.1)

# --- notifications (settings of the notifications app go here)
# Pushes of one notification to a user before it goes to the dead-letter queue.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
# Age (from its first push) after which an unacked notification goes to the dead-letter queue.
NOTIFY_MAX_AGE_SECONDS = env.int("NOTIFY_MAX_AGE_SECONDS", default=24 * 3600)
# An open socket that has not acked a notification this long gets it pushed again.
NOTIFY_REDELIVER_SECONDS = env.float("NOTIFY_REDELIVER_SECONDS", default=30.0)
# How often each process checks its sockets for overdue acks and records attempts.
NOTIFY_TICK_SECONDS = env.float("NOTIFY_TICK_SECONDS", default=1.0)
# Up to this many recipients, one push per user; above, one batch frame per process.
NOTIFY_DIRECT_MAX = env.int("NOTIFY_DIRECT_MAX", default=20)
# After a friend request is declined, its sender may ask that user again only this much later.
FRIEND_REQUEST_COOLDOWN_SECONDS = env.int("FRIEND_REQUEST_COOLDOWN_SECONDS", default=24 * 3600)

# --- collab (settings of the collaborative editing app go here)
# Longest document, in code points (PROTOCOL.md: 1,000,000).
COLLAB_MAX_LENGTH = env.int("COLLAB_MAX_LENGTH", default=1_000_000)
# Ops kept per document for catch-up (`sync`, late ops); PROTOCOL.md asks for at least 1,000.
COLLAB_OP_RETENTION = env.int("COLLAB_OP_RETENTION", default=10_000)
# A snapshot of the text every this many versions (history in the admin); pruning runs then too.
COLLAB_SNAPSHOT_EVERY = env.int("COLLAB_SNAPSHOT_EVERY", default=500)
# The per-user bucket shared by `op` and `cursor` frames (PROTOCOL.md: 100/s, burst 200).
COLLAB_RATE_PER_SECOND = env.float("COLLAB_RATE_PER_SECOND", default=100.0)
COLLAB_RATE_BURST = env.int("COLLAB_RATE_BURST", default=200)
# Work one `op` may cost, in component steps (about a microsecond each), to read
# back and transform past the ops committed since its base; past it,
# `stale_version`, and the client catches up and sends the op again.
COLLAB_MAX_TRANSFORM_WORK = env.int("COLLAB_MAX_TRANSFORM_WORK", default=5000)
# One `sync` reply holds at most this many ops, ending with the op that passes
# COLLAB_SYNC_MAX_BYTES of JSON; `has_more` asks the client to sync again.
COLLAB_SYNC_MAX_OPS = env.int("COLLAB_SYNC_MAX_OPS", default=1000)
COLLAB_SYNC_MAX_BYTES = env.int("COLLAB_SYNC_MAX_BYTES", default=512 * 1024)

# --- dashboards (settings of the dashboards app go here)
# Seconds between publisher ticks: each dashboard gets at most one `update` per tick.
DASHBOARD_UPDATE_SECONDS = env.float("DASHBOARD_UPDATE_SECONDS", default=1.0)
# Life of the publisher lease in Redis: a dead publisher is replaced within this.
DASHBOARD_LEASE_SECONDS = env.float("DASHBOARD_LEASE_SECONDS", default=5.0)
# Orders the sales ticker shows (and an update carries at most).
DASHBOARD_SALES = env.int("DASHBOARD_SALES", default=10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Token values in logged request paths (uvicorn's) become [redacted] (realtime/logs.py).
    "filters": {"redact_tokens": {"()": "realtime.logs.server_log_filter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=200)
# Prefix of the keys the project keeps in Redis (rate-limit buckets, leases).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="rt")
