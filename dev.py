#!/usr/bin/env python3
"""The two commands of the quick start, with nothing but Python 3.11+ installed:

    python3 dev.py demo    install, create a demo database on SQLite, serve it
    python3 dev.py test    install, run the whole test suite (extra args go to pytest)

Both keep their virtual environment in .venv/ and reinstall only when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
DEMO_DB = ROOT / "instance" / "demo.sqlite3"


def ensure_installed(extras: str | None) -> None:
    """The platform in .venv, with ``extras`` (None: the runtime only)."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py is run by whatever python3 a newcomer has)
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'runtime'}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"Installing the platform and its {extras or 'runtime'} dependencies into .venv ...", flush=True)
    subprocess.run(
        [
            str(PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-e",
            f".[{extras}]" if extras else ".",
        ],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(wanted)


def flask(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(PYTHON), "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def port_taken(port: int) -> bool:
    """Something already listens on 127.0.0.1:``port`` (a demo still running, say)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def demo() -> int:
    port = os.environ.get("PORT", "5000")
    # Before anything is touched: a second demo must not recreate the database under the first.
    if not port.isdecimal() or not 0 < int(port) < 65536:
        print(f"PORT={port} is not a port number.", file=sys.stderr)
        return 2
    if port_taken(int(port)):
        print(f"Port {port} is taken (is a demo already running?); stop it or set PORT.", file=sys.stderr)
        return 1
    ensure_installed(None)
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{DEMO_DB}")
    if env["DATABASE_URL"] == f"sqlite:///{DEMO_DB}":
        DEMO_DB.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
        print(f"Demo database (recreated at every start): {DEMO_DB}", flush=True)
    flask("db", "upgrade", env=env)
    flask("demo", "seed", "--base-url", base_url, env=env)
    print("Serving; press Ctrl+C to stop.", flush=True)
    try:
        return subprocess.call(
            [str(PYTHON), "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", port],
            cwd=ROOT,
            env=env,
        )
    except KeyboardInterrupt:
        return 0


def test(pytest_args: list[str]) -> int:
    ensure_installed("test")
    code = subprocess.call([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT)
    if code == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
        return 1
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    if argv[0] == "demo":
        return demo()
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
