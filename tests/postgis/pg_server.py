"""A throw-away PostgreSQL + PostGIS cluster for the tests: initdb in a temporary folder, started
on a free loopback port as an unprivileged user (``nobody`` when the tests run as root, as
PostgreSQL refuses to run as root), stopped and deleted at the end.

Databases: ``citydesk`` (with PostGIS; superuser ``citydesk``, no password over loopback),
``plain`` (no PostGIS). Role ``pw_user`` needs the password ``PASSWORD`` (scram-sha-256).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PASSWORD = "s3cret-Pw"
INSTALL = "apt-get install -y postgresql postgresql-postgis  (or: make test, which runs scripts/setup.sh dev)"


def find_bin() -> Path | None:
    """The newest PostgreSQL server bin folder that has PostGIS next to it."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        version = folder.split("/")[-2]
        if Path(folder, "initdb").exists() and glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url(table)`` is a source URL."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="citydesk-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.started_s = 0.0
        self._run_as: dict = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _pg(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {"PATH": f"{self.bindir}:/usr/bin:/bin", "HOME": str(self.root), "LC_ALL": "C", "TZ": "UTC"}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], env=env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root, **self._run_as)

    def start(self) -> None:
        t0 = time.perf_counter()
        done = self._pg("initdb", "-D", str(self.data), "-U", "citydesk", "-A", "trust", "-E", "UTF8",
                        "--locale=C", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-800:]}")
        hba = ("local all all trust\n"
               "host all pw_user 127.0.0.1/32 scram-sha-256\n"
               "host all all 127.0.0.1/32 trust\n")
        (self.data / "pg_hba.conf").write_text(hba)
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40 "
                   "-c shared_buffers=64MB")
        done = self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        if done.returncode:
            log = self.log.read_text()[-1500:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()[-500:]}\n{log}")
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="citydesk", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE citydesk")
            conn.execute("CREATE DATABASE plain")
            conn.execute(f"CREATE ROLE pw_user LOGIN PASSWORD '{PASSWORD}'")
        with self.connect() as conn:
            conn.execute("CREATE EXTENSION postgis")
            conn.execute("GRANT ALL ON SCHEMA public TO pw_user")
        self.started_s = time.perf_counter() - t0

    def connect(self, dbname: str = "citydesk"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="citydesk", dbname=dbname, autocommit=True)

    def url(self, table: str | None = None, *, user: str = "citydesk", dbname: str = "citydesk") -> str:
        base = f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"
        return f"{base}?table={table}" if table else base

    def stop(self) -> None:
        if self.data.exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)
