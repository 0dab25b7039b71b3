"""The server under test: a dedicated database, bench data, and daphne or uvicorn processes.

Every scenario starts its own server through `BenchServer`; on its own this
module keeps one up for manual poking:

    .venv/bin/python -m bench.server --server uvicorn --users 100 --rooms lobby

The bench database is fresh for every run: a copy of a migrated SQLite
template under var/bench/ by default, or, with `--database-url` naming a
PostgreSQL database whose name starts with `bench`, that database dropped and
created again (any other name is only migrated and topped up).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from .cpulimit import CpuLimit

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / "var" / "bench"
MD5_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"
UNLIMITED = "1000000000"

# Limits that protect production but would measure themselves, not the server.
BENCH_ENV = {
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
    "PASSWORD_HASHERS": MD5_HASHER,
    "MAX_SOCKETS_PER_IP": UNLIMITED,
    "RATE_LIMIT_PER_SECOND": UNLIMITED,
    "RATE_LIMIT_BURST": UNLIMITED,
    "RATE_LIMIT_FLOOD_CLOSE": UNLIMITED,
    "COLLAB_RATE_PER_SECOND": UNLIMITED,
    "COLLAB_RATE_BURST": UNLIMITED,
    "JWT_TTL_SECONDS": str(24 * 3600),
    "PYTHONUNBUFFERED": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerOptions:
    """How to run the server under test."""

    kind: str = "daphne"
    processes: int = 1
    base_port: int = 0
    database_url: str | None = None
    redis_url: str | None = None
    cores: list[int] | None = None
    cpu_share: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)


@dataclass
class Fixture:
    """What the bench database holds for this run."""

    users: list[int]
    staff: int
    rooms: list[str]


class BenchServer:
    """Prepare the database, start N server processes, stop them, and mint tokens."""

    def __init__(self, options: ServerOptions, run: str) -> None:
        if options.kind not in ("daphne", "uvicorn"):
            raise ValueError("--server is daphne or uvicorn")
        if options.processes > 1 and not options.redis_url:
            raise ValueError("several processes share broadcasts through Redis: set REDIS_URL")
        self.options = options
        self.run = run
        self.secret = secrets.token_hex(32)
        self.secret_key = secrets.token_urlsafe(50)
        self.dir = WORKDIR / run
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sqlite_path: Path | None = None
        self.database_url = options.database_url or self._sqlite_url()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.cpu_limit = CpuLimit(options.cpu_share, f"bench-{run}") if options.cpu_share else None
        self.fixture = Fixture(users=[], staff=0, rooms=[])

    # --- database ---------------------------------------------------------------

    def _sqlite_url(self) -> str:
        self.sqlite_path = self.dir / "bench.sqlite3"
        return f"sqlite:///{self.sqlite_path}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        env.update(BENCH_ENV)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "realtime.settings",
                "DATABASE_URL": self.database_url,
                "SECRET_KEY": self.secret_key,
                "JWT_SECRET": self.secret,
                "REDIS_KEY_PREFIX": f"bench{self.run}",
                "CHANNEL_PREFIX": f"bench{self.run}",
            }
        )
        if self.options.redis_url:
            env["REDIS_URL"] = self.options.redis_url
        env.update(self.options.env)
        return env

    def prepare(self, *, users: int, rooms: list[str]) -> Fixture:
        """A fresh database with `users` users (plus one staff user) and the given rooms."""
        migrate = True
        if self.sqlite_path is not None:
            shutil.copyfile(self._sqlite_template(), self.sqlite_path)
            migrate = False
        elif _postgres_name(self.database_url).startswith("bench"):
            self._postgres_recreate()
            migrate = False
        spec = json.dumps({"users": users, "rooms": rooms, "migrate": migrate})
        out = subprocess.run(
            [sys.executable, "-m", "bench.fixtures"],
            input=spec.encode(),
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            check=False,
        )
        if out.returncode:
            raise RuntimeError(f"bench fixtures failed:\n{out.stderr.decode()[-4000:]}")
        data = json.loads(out.stdout.decode().strip().splitlines()[-1])
        self.fixture = Fixture(users=data["users"], staff=data["staff"], rooms=data["rooms"])
        return self.fixture

    def _migrate(self, database_url: str) -> None:
        env = self.env() | {"DATABASE_URL": database_url}
        cmd = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)

    def _sqlite_template(self) -> Path:
        """A migrated empty database, made once per set of migrations (migrating takes ~15 s)."""
        template = WORKDIR / f"template-{_migrations_digest()}.sqlite3"
        if not template.exists():
            scratch = template.with_suffix(f".{os.getpid()}.tmp")
            self._migrate(f"sqlite:///{scratch}")
            scratch.replace(template)
        return template

    def _postgres_recreate(self) -> None:
        """Drop the bench database and create it again from a migrated template database."""
        import psycopg

        name = _postgres_name(self.database_url)
        assert name.startswith("bench")
        template = f"{name}_tpl_{_migrations_digest()}"[:63]
        admin = urlsplit(self.database_url)._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
            if found.fetchone() is None:
                old = conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}_tpl_%",)
                )
                for (stale,) in old.fetchall():
                    conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{template}"')
                self._migrate(urlsplit(self.database_url)._replace(path=f"/{template}").geturl())
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    # --- processes ----------------------------------------------------------------

    def command(self, index: int, port: int) -> list[str]:
        """The command line of server process `index` (pinned with taskset when asked)."""
        cmd: list[str] = []
        cores = self.options.cores
        if cores and shutil.which("taskset"):
            cmd += ["taskset", "-c", str(cores[index % len(cores)])]
        if self.options.kind == "daphne":
            endpoint = f"tcp:port={port}:backlog=4096:interface=127.0.0.1"
            cmd += [sys.executable, "-m", "daphne", "-v", "0", "-e", endpoint]
        else:
            cmd += [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
            cmd += ["--backlog", "4096", "--no-access-log", "--log-level", "warning"]
            cmd += ["--lifespan", "off"]
        return [*cmd, *self.options.args, "realtime.asgi:application"]

    def start(self) -> None:
        """Start every process and wait until each answers /healthz."""
        env = self.env()
        for index in range(self.options.processes):
            port = self.options.base_port + index if self.options.base_port else free_port()
            log = (self.dir / f"server-{index}.log").open("wb")
            process = subprocess.Popen(
                self.command(index, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            self.processes.append(process)
            self.ports.append(port)
            if self.cpu_limit is not None:
                try:
                    self.cpu_limit.apply(process.pid, index)
                except RuntimeError:
                    self.stop()  # no server left running without its cap
                    raise
        for index, port in enumerate(self.ports):
            try:
                _wait_healthy(f"http://127.0.0.1:{port}", self.processes[index])
            except Exception as exc:
                self.stop()
                log_text = (self.dir / f"server-{index}.log").read_text(errors="replace")
                message = f"server {index} did not start: {exc}\n{log_text[-4000:]}"
                raise RuntimeError(message) from None

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.processes.clear()
        if self.cpu_limit is not None:
            self.cpu_limit.remove()

    def cleanup(self) -> None:
        """Remove this run's database copy and logs (after `stop`)."""
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def http(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}"

    def ws(self, index: int = 0) -> str:
        """The WebSocket base of process `index` (round robin over the processes)."""
        return f"ws://127.0.0.1:{self.ports[index % len(self.ports)]}"

    def token(self, user_id: int) -> str:
        """A JWT the server accepts for `user_id` (PROTOCOL.md: HS256, `sub`, `exp`)."""
        now = int(time.time())
        claims = {"sub": str(user_id), "iat": now, "exp": now + 24 * 3600}
        return jwt.encode(claims, self.secret, algorithm="HS256")


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            with opener.open(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f}s")


def _postgres_name(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.lstrip("/") if parts.scheme.startswith("postgres") else ""


def _migrations_digest() -> str:
    """Names the state of every app's migrations (a template is good while it holds)."""
    digest = hashlib.sha1()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every scenario shares for the server under test."""
    group = parser.add_argument_group("server under test")
    group.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    group.add_argument("--processes", type=int, default=1, help="server processes (needs Redis)")
    group.add_argument("--port", type=int, default=0, help="first port (default: free ports)")
    group.add_argument(
        "--server-cpus",
        type=float,
        metavar="SHARE",
        help="hold each server process to this share of one core (a cgroup CPU quota; root): "
        "emulates a core per process on a small host, e.g. 0.4",
    )
    group.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="bench database (default: a fresh SQLite file under var/bench/); a PostgreSQL "
        "database named bench* is dropped and created again",
    )
    group.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="Redis for the channel layer (default: $REDIS_URL; 'none' for the in-memory layer)",
    )
    group.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the server processes (repeatable), e.g. MAX_OUTBOX_FRAMES=200",
    )
    group.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra command-line argument for daphne/uvicorn (repeatable)",
    )


def options_from(args: argparse.Namespace, cores: list[int] | None) -> ServerOptions:
    redis_url = None if (args.redis_url or "none") == "none" else args.redis_url
    env = dict(item.split("=", 1) for item in args.server_env)
    return ServerOptions(
        kind=args.server,
        processes=args.processes,
        base_port=args.port,
        database_url=args.database_url,
        redis_url=redis_url,
        cores=cores,
        cpu_share=args.server_cpus,
        env=env,
        args=list(args.server_arg),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rooms", default="lobby", help="comma-separated room slugs")
    args = parser.parse_args()
    server = BenchServer(options_from(args, None), run=secrets.token_hex(3))
    fixture = server.prepare(users=args.users, rooms=args.rooms.split(","))
    server.start()
    manifest = {
        "http": [server.http(i) for i in range(args.processes)],
        "ws": [server.ws(i) for i in range(args.processes)],
        "pids": server.pids,
        "rooms": fixture.rooms,
        "staff_token": server.token(fixture.staff),
        "tokens": {str(uid): server.token(uid) for uid in fixture.users},
    }
    path = server.dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    print(f"serving on {server.http(0)} (and {args.processes - 1} more); tokens in {path}")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
