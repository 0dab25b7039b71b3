"""Settings, read from the environment (django-environ).

Every setting a deployer may change is listed, with its default, in the
README's "Settings" table. Defaults give the embedded set-up: SQLite and the
in-memory channel layer, one process.
"""

from __future__ import annotations

import os
from pathlib import Path

import django_stubs_ext
import environ

# Lets admin.ModelAdmin[Model] and other generic classes be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))
if ENV_FILE.exists():
    environ.Env.read_env(ENV_FILE, overwrite=False)

# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env.str(
    "SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789"
)
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_SIZE", default=20),
        "timeout": 30,
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "realtime.tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "realtime.api.error_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Realtime API",
    "DESCRIPTION": "REST side of the realtime platform; WebSockets: docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Realtime limits (PROTOCOL.md "Limits"); every one can be set from the environment.
JWT_SECRET = env.str("JWT_SECRET", default=SECRET_KEY)
JWT_TTL_SECONDS = env.int("JWT_TTL_SECONDS", default=3600)
RATE_LIMIT_PER_SECOND = env.float("RATE_LIMIT_PER_SECOND", default=10.0)
RATE_LIMIT_BURST = env.int("RATE_LIMIT_BURST", default=20)
# Consecutive rate-limited frames after which the socket is closed with 4429.
RATE_LIMIT_FLOOD_CLOSE = env.int("RATE_LIMIT_FLOOD_CLOSE", default=50)
MAX_SOCKETS_PER_IP = env.int("MAX_SOCKETS_PER_IP", default=1000)
MAX_SOCKETS_PER_USER = env.int("MAX_SOCKETS_PER_USER", default=50)
MAX_FRAME_BYTES = env.int("MAX_FRAME_BYTES", default=64 * 1024)
# Frames queued for one socket that does not read before it is dropped (4013).
MAX_OUTBOX_FRAMES = env.int("MAX_OUTBOX_FRAMES", default=1000)
# Unsent bytes daphne may hold for one socket before dropping it (it stopped reading).
MAX_SEND_BUFFER_BYTES = env.int("MAX_SEND_BUFFER_BYTES", default=4 * 1024 * 1024)
CONNECTION_TTL_SECONDS = env.int("CONNECTION_TTL_SECONDS", default=24 * 3600)
HEARTBEAT_SECONDS = env.float("HEARTBEAT_SECONDS", default=10.0)
# A process whose heartbeat is older than this is dead; its sockets are swept.
PROCESS_TIMEOUT_SECONDS = env.float("PROCESS_TIMEOUT_SECONDS", default=30.0)

# Thresholds of Python's cyclic garbage collector in a server process (see asgi.py).
GC_THRESHOLDS = tuple(env.list("GC_THRESHOLDS", cast=int, default=[50_000, 20, 100]))

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
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=200)
# Prefix of the keys the project keeps in Redis (rate-limit buckets, leases).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="rt")
