"""A PostgreSQL cluster of one's own: ``initdb`` in a temporary folder, on a port of its
own, stopped with ``-m immediate`` as a crash would stop it. Never the shared server.

Shared by tests/integration/test_database_faults.py and bench/crash_safety.py; only the
standard library, so a script can import it without the test fixtures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = (
    Path("/usr/lib/postgresql")
    / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if os.path.isdir("/usr/lib/postgresql") else "none")
    / "bin"
)
PG_CTL_TIMEOUT_S = 120


def missing_binaries() -> str | None:
    """Why a cluster cannot be made here, or None when it can."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        return f"PostgreSQL's server binaries are needed at {PG_BIN} (and runuser)"
    return None


def as_postgres(*args: str | Path) -> subprocess.CompletedProcess:
    command = [str(arg) for arg in args]
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=PG_CTL_TIMEOUT_S)


class Cluster:
    """A PostgreSQL cluster in ``folder``, listening on 127.0.0.1:``port``."""

    def __init__(self, folder: Path, port: int):
        self.data, self.port = folder / "data", port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> None:
        as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-w", "-l", self.data / "log", "start")

    def stop(self) -> None:
        """Stop as a crash would: no checkpoint, the next start replays the WAL."""
        as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")


@contextmanager
def own_cluster(port: int, prefix: str = "pg-cluster-") -> Iterator[Cluster]:
    """A created and started cluster, stopped and removed afterwards."""
    # Not under pytest's temporary folder: the server's own user must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    found = Cluster(folder, port)
    try:
        found.create()
        found.start()
        yield found
    finally:
        try:
            found.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(folder, ignore_errors=True)
