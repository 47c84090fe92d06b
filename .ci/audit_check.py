"""CI gate: `python -m partner_sdk.audit` against a live platform.

Serves the platform on a fresh SQLite database with the demo data, then runs the
audit as a merchant would, from one state file:

1. on the demo's log: passes (exit 0);
2. after new orders and a new head: passes, the new head extending the old;
3. after one of those new entries is changed in the database: fails (exit 1);
4. once it is changed back: passes; with --all, an entry verified by an earlier
   run and changed in place fails it too;
5. after the history is rewritten, the tree rebuilt and a head re-signed with the
   platform's own key (a forked log): fails (exit 1).

Exits non-zero when any step does not end as it must.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT))

from app.constants import DEV_ADMIN_KEY  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(base_url: str, method: str, path: str, key: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def audit(base_url: str, state: Path, key: str, *flags: str) -> int:
    env = {**os.environ, "LOYALTY_API_KEY": key}
    done = subprocess.run(
        [PYTHON, "-m", "partner_sdk.audit", "--base-url", base_url, "--state", str(state), *flags], env=env, cwd=ROOT
    )
    return done.returncode


def expect(step: str, code: int, wanted: int) -> None:
    print(f"audit_check: {step}: exit {code} (expected {wanted})", flush=True)
    if code != wanted:
        raise SystemExit(f"audit_check: {step} should have exited {wanted}")


def serve(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen([PYTHON, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)], env=env, cwd=ROOT)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("audit_check: the platform did not start")


def order(base_url: str, merchant: dict, order_id: str) -> dict:
    body = {"order_id": order_id, "amount_cents": 4599, "currency": "EUR", "member_email": f"{order_id}@example.com"}
    return call(base_url, "POST", "/v1/orders", merchant["api_key"], body)


def newest_entry(db_path: Path, merchant_id: str, *, oldest: bool = False) -> int:
    """The merchant's newest entry (or its oldest)."""
    with sqlite3.connect(db_path) as conn:
        (entry_id,) = conn.execute(
            f"SELECT {'MIN' if oldest else 'MAX'}(p.entry_id) FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id "
            "WHERE a.name = ?",
            (f"merchant:{merchant_id}:receivable",),
        ).fetchone()
    return int(entry_id)


def scale_entry(db_path: Path, entry_id: int, sql: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"UPDATE ledger_postings SET amount = {sql} WHERE entry_id = ?", (entry_id,))


def forge(env: dict, entry_id: int) -> None:
    """Rewrite one entry and rebuild the whole tree over the changed journal, as a dishonest operator could."""
    script = (
        "from sqlalchemy import text\n"
        "import ledger\n"
        "from app import create_app, unit_of_work\n"
        "with create_app().app_context(), unit_of_work.unit() as uow:\n"
        f"    uow.session.execute(text('UPDATE ledger_postings SET amount = -amount WHERE entry_id = {entry_id}'))\n"
        "    uow.session.execute(text('UPDATE ledger_seals SET leaf_hash = NULL'))\n"
        "    uow.session.execute(text('DELETE FROM ledger_tree_nodes'))\n"
        "    uow.session.execute(text('UPDATE ledger_log_state SET tree_size = 0'))\n"
        "    uow.commit(ledger.seal(uow.session))\n"
    )
    subprocess.run([PYTHON, "-c", script], env=env, cwd=ROOT, check=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="audit-check-"))
    db_path, state, port = work / "platform.sqlite3", work / "audit-state.json", free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "FLASK_APP": "wsgi"}
    for args in (["db", "upgrade"], ["demo", "seed", "--base-url", base_url]):
        subprocess.run(
            [PYTHON, "-m", "flask", "--app", "wsgi", *args], env=env, cwd=ROOT, check=True, capture_output=True
        )
    server = serve(env, port)
    try:
        merchant = call(
            base_url,
            "POST",
            "/v1/merchants",
            DEV_ADMIN_KEY,
            {
                "name": "Audit Shop",
                "domains": ["audit.example"],
                "currency": "EUR",
                "earn_rule": {"points": 10, "per_amount_cents": 1500},
                "price_per_1000_points_cents": 500,
            },
        )
        key = merchant["api_key"]
        order(base_url, merchant, "audit-1")
        call(base_url, "POST", "/v1/ledger/tree-heads", DEV_ADMIN_KEY)
        expect("first run on the live log", audit(base_url, state, key), 0)

        order(base_url, merchant, "audit-2")
        order(base_url, merchant, "audit-3")
        call(base_url, "POST", "/v1/ledger/tree-heads", DEV_ADMIN_KEY)
        expect("after new orders and a new head", audit(base_url, state, key), 0)

        order(base_url, merchant, "audit-4")
        call(base_url, "POST", "/v1/ledger/tree-heads", DEV_ADMIN_KEY)
        tampered = newest_entry(db_path, merchant["id"])
        scale_entry(db_path, tampered, "amount * 2")
        expect(f"after entry {tampered} was changed", audit(base_url, state, key), 1)
        scale_entry(db_path, tampered, "amount / 2")
        expect(f"after entry {tampered} was changed back", audit(base_url, state, key), 0)
        checked = newest_entry(db_path, merchant["id"], oldest=True)
        scale_entry(db_path, checked, "amount * 3")
        expect(f"--all after entry {checked}, verified earlier, was changed", audit(base_url, state, key, "--all"), 1)
        scale_entry(db_path, checked, "amount / 3")
        expect("--all once it was changed back", audit(base_url, state, key, "--all"), 0)

        forge(env, tampered)  # inside the head the audit last verified
        order(base_url, merchant, "audit-5")
        call(base_url, "POST", "/v1/ledger/tree-heads", DEV_ADMIN_KEY)
        expect("after the history was rewritten and re-signed", audit(base_url, state, key), 1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print("audit_check: the audit passes on the live log and fails after each tamper")
    return 0


if __name__ == "__main__":
    sys.exit(main())
