"""CI gate: the README's production recipe, from a wheel built out of the checkout and
installed in a fresh virtualenv, run from a folder that is not the checkout.

With production settings (real secrets, PostgreSQL, Redis for the rate limits):
`flask --app app db upgrade` (the migrations travel in the package), `flask --app
app ledger verify`, then gunicorn serving `app:create_app()`: `/ready` answers 200,
the operator creates a merchant, and the merchant records an order. The database is
a throw-away one on the shared PostgreSQL server.

Usage: python .ci/install_check.py VENV   (VENV has the wheel installed)
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg

SERVER = "postgres@127.0.0.1:5432"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, method: str = "GET", key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def production_env(database: str, admin_key: str) -> dict:
    return {
        "PATH": os.environ["PATH"],
        "LOYALTY_ENV": "production",
        "DATABASE_URL": f"postgresql://{SERVER}/{database}",
        "LOYALTY_ADMIN_KEY": admin_key,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LEDGER_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CLICK_TOKEN_KEYS": secrets.token_urlsafe(32),
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": f"install-check-{database}",
    }


def run(venv: Path, env: dict, cwd: str, *args: str) -> None:
    print("install_check: flask --app app " + " ".join(args), flush=True)
    subprocess.run([str(venv / "bin" / "flask"), "--app", "app", *args], env=env, cwd=cwd, check=True)


def serve(venv: Path, env: dict, cwd: str, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(venv / "bin" / "gunicorn"), "--workers", "2", "-c", "python:app.clicks.gunicorn"]
        + ["-b", f"127.0.0.1:{port}", "app:create_app()"],
        env=env,
        cwd=cwd,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"install_check: gunicorn exited with {server.returncode}")
        try:
            status, body = call(f"http://127.0.0.1:{port}/ready")
            if status == 200:
                print(f"install_check: /ready {status} {body}", flush=True)
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("install_check: /ready did not answer 200")


def main(venv: Path) -> None:
    database = f"install_check_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(f"postgresql://{SERVER}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    admin_key = secrets.token_urlsafe(32)
    env = production_env(database, admin_key)
    try:
        with tempfile.TemporaryDirectory() as cwd:  # not the checkout: only the installed package is there
            run(venv, env, cwd, "db", "upgrade")
            run(venv, env, cwd, "ledger", "verify")
            port = free_port()
            server = serve(venv, env, cwd, port)
            try:
                base = f"http://127.0.0.1:{port}"
                body = {
                    "name": "Install check",
                    "domains": ["shop.example"],
                    "currency": "EUR",
                    "earn_rule": {"points": 10, "per_amount_cents": 1500},
                    "price_per_1000_points_cents": 500,
                }
                status, merchant = call(f"{base}/v1/merchants", "POST", admin_key, body)
                if status != 201:
                    raise SystemExit(f"install_check: creating a merchant answered {status} {merchant}")
                order = {"order_id": "ci-1", "amount_cents": 4599, "currency": "EUR", "member_email": "ci@example.com"}
                status, recorded = call(f"{base}/v1/orders", "POST", merchant["api_key"], order)
                if status != 201 or recorded.get("points_earned") != 30:
                    raise SystemExit(f"install_check: recording an order answered {status} {recorded}")
                with urllib.request.urlopen(f"{base}/docs", timeout=10) as docs:
                    if docs.status != 200 or b"swagger-ui" not in docs.read():
                        raise SystemExit("install_check: /docs is not served from the installed package")
                print("install_check: merchant created, its order earned 30 points, /docs served", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
    print("install_check: the wheel installs and serves in production mode")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
