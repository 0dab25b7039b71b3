"""Real server processes for tests: daphne (or uvicorn) on the test database.

Tests of multi-process behaviour start two or more of these on one Redis; the
browser tests start one. Each process gets the test's Redis namespace.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test run uses."""
    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGABRT)
                self.process.wait(5)
                print("STOP TIMEOUT", self.log()[-6000:])
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        """Die at once, as a crashed process would: no cleanup of its sockets."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def _listens_on(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether `process` itself holds the listening socket on `port`."""
    try:
        found = psutil.Process(process.pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in found)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll /healthz until `process` answers it, the process dies, or `timeout` passes.

    The answer must come from `process`: a port picked as free can be taken
    by another run's server meanwhile (tests run side by side), and that
    server would answer too.
    """
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200 and _listens_on(process, port):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout}s")


def start_server(
    tmp_dir: Path,
    *,
    port: int | None = None,
    server: str = "daphne",
    extra_env: dict[str, Any] | None = None,
) -> Server:
    """Start one server process on the test database and wait until it is healthy.

    Without `port`, on a free port; if another process takes that port first,
    on another one.
    """
    for attempt in range(3):
        try:
            return _start_once(tmp_dir, port or free_port(), server, extra_env)
        except RuntimeError:
            if port is not None or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start_once(tmp_dir: Path, port: int, server: str, extra_env: dict[str, Any] | None) -> Server:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "realtime.settings",
            "DATABASE_URL": test_database_url(),
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]
            .get("CONFIG", {})
            .get("prefix", "rt"),
            # Plain HTTP on 127.0.0.1: DEBUG for cookies without `Secure`; the keys
            # of the test run, so that tokens the tests sign are valid there.
            "DEBUG": "true",
            "SECRET_KEY": settings.SECRET_KEY,
            "JWT_SECRET": settings.JWT_SECRET,
            "PASSWORD_HASHERS": ",".join(settings.PASSWORD_HASHERS),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    env.update({key: str(value) for key, value in (extra_env or {}).items()})
    log_path = tmp_dir / f"{server}-{port}.log"
    if server == "daphne":
        cmd = [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
        ]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    cmd.append("realtime.asgi:application")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    result = Server(port=port, process=process, log_path=log_path, env=env)
    try:
        wait_healthy(result.http, process)
    except Exception:
        result.kill()
        raise RuntimeError(f"server did not start:\n{result.log()}") from None
    return result
