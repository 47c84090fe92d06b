"""CI gate: schemathesis 4, stateful phase included, over openapi.yaml against a real
server finds no 5xx.

A throw-away database ``fuzz_<pid>`` on the shared PostgreSQL server (created here,
dropped at the end) is migrated and filled with the demo data (`flask demo seed`: two
merchants with orders, refunds, a catalog, a redemption, an affiliate with a program
and a link); gunicorn serves the app on a loopback port (rate limits off, so the run
explores instead of collecting 429s). Then `st run` sends the examples, coverage,
fuzzing and stateful phases (the stateful phase chains calls through the links
schemathesis infers from the response schemas and path parameters, and from Location
headers), every request with the key of the role its route admits
(.ci/schemathesis_hooks.py). The run is bounded by ``--max-time``.

It prints what schemathesis reports and the server's own count of the answers it gave
by status (from /metrics, one worker). Exit status 1 on any 5xx or a failed check.

Usage: .venv/bin/python .ci/schemathesis_check.py [--max-time-s 200] [--seed N] [-- ST_RUN_ARGS...]   (CI step 9)
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER = "postgres@127.0.0.1:5432"
MAX_TIME_S_DEFAULT = 200  # with setup and teardown, about 4 minutes on 2 cores
MAX_EXAMPLES = 60
SEED_DEFAULT = 15
# One client worker: hypothesis' lambda descriptions are not safe across threads (a run
# with two once ended in "SystemError: AST constructor recursion depth mismatch").
CLIENT_WORKERS = 1
STRIPE_TEST_KEY = "sk_test_schemathesis_check"
GUNICORN_THREADS = 4
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
PHASES = "examples,coverage,fuzzing,stateful"
METRIC = re.compile(r"^loyalty_http_request_duration_seconds_count\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")
KEY_LINE = {
    "FUZZ_OPERATOR_KEY": re.compile(r"Operator key:\s+(\S+)"),
    "FUZZ_MERCHANT_KEY": re.compile(r"Merchant key \(Maison Lumière\):\s+(\S+)"),
    "FUZZ_AFFILIATE_KEY": re.compile(r"Affiliate key \(Le Comparateur\):\s+(\S+)"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"schemathesis_check: flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def demo_keys(seed_output: str) -> dict[str, str]:
    keys = {}
    for name, pattern in KEY_LINE.items():
        found = pattern.search(seed_output)
        if found is None:
            raise SystemExit(f"schemathesis_check: `flask demo seed` no longer prints the {name} line")
        keys[name] = found.group(1)
    return keys


def serve(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "1", "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS)]
            + ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"schemathesis_check: gunicorn exited:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("schemathesis_check: gunicorn did not become healthy")


def start_localstripe(log_path: Path) -> tuple[subprocess.Popen, str]:
    """The fake Stripe server the tests use, so billing calls reach a payment provider."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "localstripe"), "--port", str(port), "--from-scratch"], stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"schemathesis_check: localstripe exited:\n{log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("schemathesis_check: localstripe did not listen")


def owner_ids(database: str) -> dict[str, str]:
    """The demo's first merchant and its affiliate, whose keys the fuzzer uses."""
    with psycopg.connect(f"postgresql://{SERVER}/{database}") as conn:
        merchant = conn.execute("SELECT id FROM merchants WHERE name = 'Maison Lumière'").fetchone()
        affiliate = conn.execute("SELECT id FROM affiliates WHERE name = 'Le Comparateur'").fetchone()
    return {"FUZZ_MERCHANT_ID": str(merchant[0]), "FUZZ_AFFILIATE_ID": str(affiliate[0])}


def answers_by_status(port: int, operator_key: str) -> Counter:
    """The server's own count of API answers by status, from /metrics."""
    counts: Counter = Counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    request.add_header("Authorization", f"Bearer {operator_key}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            found = METRIC.match(line)
            if found is None or 'route="/metrics"' in found["labels"] or 'route="/health"' in found["labels"]:
                continue
            status = re.search(r'status="(\d+)"', found["labels"])
            counts[status.group(1) if status else "?"] += int(float(found["value"]))
    return counts


def fuzz(env: dict, port: int, args: argparse.Namespace) -> int:
    command = [str(BIN / "st"), "run", str(ROOT / "openapi.yaml"), "--url", f"http://127.0.0.1:{port}"]
    command += ["--phases", PHASES, "--checks", "not_a_server_error", "--max-examples", str(MAX_EXAMPLES)]
    command += ["--max-time", str(args.max_time_s), "--seed", str(args.seed), "--workers", str(CLIENT_WORKERS)]
    command += ["--request-timeout", "20", "--suppress-health-check", "all", "--no-color", *args.st_args]
    print("schemathesis_check: " + " ".join(command[1:]), flush=True)
    hooks = {"SCHEMATHESIS_HOOKS": str(ROOT / ".ci" / "schemathesis_hooks.py"), "PYTHONPATH": str(ROOT)}
    # Not in the checkout: st keeps a cache folder (.schemathesis/) where it runs.
    with tempfile.TemporaryDirectory(prefix="schemathesis_check_") as cwd:
        done = subprocess.run(command, cwd=cwd, env={**env, **hooks}, timeout=args.max_time_s + 300)
    return done.returncode


def run(database: str, stripe_url: str, args: argparse.Namespace) -> bool:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{SERVER}/{database}",
        "LOYALTY_ADMIN_KEY": secrets.token_urlsafe(24),
        "RATELIMIT_ENABLED": "0",
        "LEDGER_SEAL_INTERVAL_S": "1",
        "STRIPE_API_KEY": STRIPE_TEST_KEY,
        "STRIPE_API_BASE": stripe_url,
        "FUZZ_BASE_URL": f"http://127.0.0.1:{port}",
    }
    flask(env, "db", "upgrade")
    env.update(demo_keys(flask(env, "demo", "seed", "--base-url", f"http://127.0.0.1:{port}")))
    env.update(owner_ids(database))
    log_path = Path(tempfile.mkstemp(prefix="schemathesis_check_gunicorn_", suffix=".log")[1])
    server = serve(env, port, log_path)
    try:
        started_s = time.monotonic()
        status = fuzz(env, port, args)
        elapsed_s = time.monotonic() - started_s
        counts = answers_by_status(port, env["LOYALTY_ADMIN_KEY"])
    finally:
        server.terminate()
        server.wait(STOP_TIMEOUT_S)
    server_errors = sum(n for code, n in counts.items() if code.startswith("5"))
    tracebacks = sum("Traceback" in line for line in log_path.read_text().splitlines())
    print(f"schemathesis_check: answers by status {dict(sorted(counts.items()))}")
    print(
        f"schemathesis_check: {sum(counts.values())} requests in {elapsed_s:.0f} s, {server_errors} server errors, "
        f"{tracebacks} tracebacks logged, schemathesis exit status {status}"
    )
    if server_errors or tracebacks:
        print(f"schemathesis_check: the server's log: {log_path}")
    else:
        log_path.unlink(missing_ok=True)
    return status == 0 and server_errors == 0 and tracebacks == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="schemathesis, stateful phase included, finds no 5xx")
    parser.add_argument("--max-time-s", type=int, default=MAX_TIME_S_DEFAULT, help="schemathesis' time budget")
    parser.add_argument("--seed", type=int, default=SEED_DEFAULT, help="schemathesis' random seed")
    parser.add_argument("st_args", nargs="*", help="after --: more arguments for st run (to explore locally)")
    args = parser.parse_args(argv)
    database = f"fuzz_{os.getpid()}"
    admin = psycopg.connect(f"postgresql://{SERVER}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    stripe_log = Path(tempfile.mkstemp(prefix="schemathesis_check_localstripe_", suffix=".log")[1])
    stripe, stripe_url = start_localstripe(stripe_log)
    try:
        ok = run(database, stripe_url, args)
    finally:
        stripe.terminate()
        stripe.wait(STOP_TIMEOUT_S)
        stripe_log.unlink(missing_ok=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
    print(f"schemathesis_check: {'passed' if ok else 'FAILED'}; database {database} dropped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
