"""Secure by default: what a process started with a given environment does.

Each test starts `manage.py` (or Python on the settings) in a subprocess with an
environment of its own, as an operator would, so nothing of the test run's own
environment leaks in.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.debug import ExceptionReporter

from realtime.error_reports import url_password_hidden

ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-in-production-0123456789"

# Every variable the settings read that decides how safe a process is.
_SECURITY_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "JWT_SECRET",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "CONTENT_SECURITY_POLICY",
)


def _environment(**values: str) -> dict[str, str]:
    """The test run's environment without any security setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in _SECURITY_VARIABLES}
    env["ENV_FILE"] = str(ROOT / "var" / "no-such-env-file")
    env["DJANGO_SETTINGS_MODULE"] = "realtime.settings"
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


def _production_environment() -> dict[str, str]:
    """The README's production environment, with fresh secrets for its placeholders."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n# production environment\n(.*?)```", readme, re.S)
    assert block, "the README shows the production environment"
    values = {}
    for line in block.group(1).splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        values[name] = secrets.token_urlsafe(48) if value.startswith("<") else value
    return values


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _settings(env: dict[str, str], *names: str) -> list[str]:
    """The values of settings `names` in a process started with `env`, as text."""
    code = "from django.conf import settings\n" + "".join(
        f"print(repr(settings.{name}))\n" for name in names
    )
    result = _run(env, "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_documented_production_environment_passes_check_deploy() -> None:
    result = _run(
        _environment(**_production_environment()),
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_debug_is_off_unless_asked_for() -> None:
    env = _environment(**_production_environment())
    env.pop("DEBUG", None)
    assert _settings(env, "DEBUG") == ["False"]


@pytest.mark.parametrize("secret_key", [None, "", DEV_SECRET_KEY])
def test_without_a_secret_key_the_process_refuses_to_start(secret_key: str | None) -> None:
    env = _environment(JWT_SECRET=secrets.token_urlsafe(48))
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    result = _run(env, "manage.py", "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr
    assert "JWT_SECRET" not in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("jwt_secret", [None, "", DEV_SECRET_KEY, DEV_JWT_SECRET, "short", "same"])
def test_without_its_own_jwt_secret_the_process_refuses_to_start(jwt_secret: str | None) -> None:
    secret_key = secrets.token_urlsafe(48)
    env = _environment(SECRET_KEY=secret_key)
    if jwt_secret is not None:
        env["JWT_SECRET"] = secret_key if jwt_secret == "same" else jwt_secret
    result = _run(env, "manage.py", "check")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert "JWT_SECRET" in last_line


def test_the_demo_runs_in_debug_without_any_key() -> None:
    result = _run(_environment(DEBUG="true"), "manage.py", "check")
    assert result.returncode == 0, result.stderr


def test_production_cookies_are_secure_and_hsts_is_on_by_default() -> None:
    env = _environment(SECRET_KEY=secrets.token_urlsafe(48), JWT_SECRET=secrets.token_urlsafe(48))
    assert _settings(
        env,
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
    ) == ["True", "True", "31536000", "False", "None"]


def test_debug_cookies_work_over_plain_http() -> None:
    assert _settings(_environment(DEBUG="true"), "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE") == [
        "False",
        "False",
    ]


def test_a_trusted_proxy_header_is_opt_in_and_named_as_sent() -> None:
    env = _environment(
        SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SECRET=secrets.token_urlsafe(48),
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert _settings(env, "SECURE_PROXY_SSL_HEADER") == ["('HTTP_X_FORWARDED_PROTO', 'https')"]


REDIS_PASSWORD = secrets.token_hex(12)  # never in this file's source, which a report quotes
REDIS_URL_WITH_PASSWORD = f"redis://:{REDIS_PASSWORD}@redis.internal:6379/0"


def _failing_view(request: HttpRequest) -> HttpResponse:
    url = REDIS_URL_WITH_PASSWORD  # a local the error report would show
    raise RuntimeError(f"cannot reach Redis ({len(url)})")


urlpatterns = [path("boom/", _failing_view)]


@pytest.mark.urls(__name__)
def test_a_500_without_debug_shows_nothing_of_the_settings(settings: Any, client: Any) -> None:
    settings.DEBUG = False
    settings.REDIS_URL = REDIS_URL_WITH_PASSWORD
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert REDIS_PASSWORD not in body and "REDIS_URL" not in body and "SECRET_KEY" not in body


def test_error_reports_hide_a_password_inside_redis_url(settings: Any, rf: Any) -> None:
    """The DEBUG page and the report mailed to ADMINS list settings and locals: no password."""
    settings.REDIS_URL = REDIS_URL_WITH_PASSWORD
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL_WITH_PASSWORD]},
        }
    }
    request = rf.get("/boom/")
    try:
        _failing_view(request)
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    for report in (html, text):
        assert "REDIS_URL" in report and "redis.internal:6379" in report
        assert REDIS_PASSWORD not in report
    assert "CHANNEL_LAYERS" in html


def test_url_password_hidden_keeps_the_rest_of_the_url() -> None:
    assert url_password_hidden("redis://user:pw@host:6379/0 and postgres://a:b@db/x") == (
        "redis://user:********************@host:6379/0 and postgres://a:********************@db/x"
    )
    assert url_password_hidden("redis://host:6379/0") == "redis://host:6379/0"
