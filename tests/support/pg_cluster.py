"""A throwaway PostgreSQL server of the tests' own (initdb in a temp folder, a free port), so a test
can stop, kill and restart a real PostgreSQL without touching the machine's shared one."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.settings import free_port


def _bindir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


@dataclass
class PgCluster:
    data: Path
    port: int
    bindir: Path

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, *argv: str) -> None:
        # PostgreSQL refuses to run as root; the tests run as root (the Asterisk chroot needs it).
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=60
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        # -l: the server's output goes to a file; on our pipe, run() would wait for the server to exit.
        ctl = str(self.bindir / "pg_ctl")
        self._as_postgres(
            ctl, "-D", str(self.data / "db"), "-l", str(self.data / "log"), "-o", opts, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: connections are cut without goodbye, as when the server dies."""
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data / "db"), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> None:
        self._as_postgres(
            str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name
        )


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    if os.geteuid() != 0:
        raise RuntimeError("a throwaway PostgreSQL needs root (it runs as the postgres user)")
    pw = pwd.getpwnam("postgres")
    data = Path(tempfile.mkdtemp(prefix="tdpg-"))
    os.chown(data, pw.pw_uid, pw.pw_gid)
    cluster = PgCluster(data, free_port(), _bindir())
    try:
        cluster._as_postgres(
            str(cluster.bindir / "initdb"),
            "-D",
            str(data / "db"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        cluster.start()
        yield cluster
    finally:
        for _ in range(3):
            try:
                cluster.stop("immediate")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)  # not running (already stopped by the test): nothing to stop
                break
        shutil.rmtree(data, ignore_errors=True)
