"""A private PostgreSQL server for tests that stop and start it (never the shared one).

initdb refuses to run as root, so as root the cluster is made and run as the
`postgres` user, in a directory of its own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import free_port

_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
BIN = Path(_BINS[-1]) if _BINS else None


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PrivatePostgres:
    """A cluster on a free loopback port with trust auth; `start()`, `stop()`, `start()` again."""

    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rt-pg-")))

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *cmd: str) -> None:
        subprocess.run([*_as_postgres(), *cmd], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        assert BIN is not None
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        assert BIN is not None
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.workdir / "server.log")
        pg_ctl = str(BIN / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        assert BIN is not None
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> None:
        assert BIN is not None
        where = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        self._run(str(BIN / "createdb"), *where, name)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def postgres_user_exists() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True
