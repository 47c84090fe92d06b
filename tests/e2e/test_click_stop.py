"""Every click counted after a graceful stop: gunicorn workers answer clicks on the lean
path (app.clicks.dispatch), buffer them, and write them on SIGTERM (app.clicks.gunicorn)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from app.clicks.models import ClickStat
from tests.conftest import ADMIN_KEY, free_port
from tests.factories.affiliates import BROWSER, build_world

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


def _gunicorn(db_url: str, port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LOYALTY_ADMIN_KEY": ADMIN_KEY,
        # Longer than the test: only the stop can write the clicks.
        "CLICK_FLUSH_INTERVAL_S": "3600",
    }
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-c", "python:app.clicks.gunicorn"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_until_serving(process: subprocess.Popen, base: str) -> None:
    deadline_s = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline_s:
        assert process.poll() is None, "gunicorn exited before serving"
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # still booting
            pass
        time.sleep(0.1)  # polling the server's start, bounded
    raise AssertionError(f"gunicorn not serving after {START_TIMEOUT_S} s")


def test_clicks_buffered_by_gunicorn_workers_are_all_written_when_they_stop(
    db_url, client, admin_headers, new_merchant, session, tmp_path
):
    world = build_world(client, admin_headers, new_merchant)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "gunicorn.log").open("w") as log:
        process = _gunicorn(db_url, port, log)
        try:
            _wait_until_serving(process, base)
            link = f"{base}/c/{world.link['code']}"
            answers = []
            for _ in range(4):  # four connections, for the workers to share
                with requests.Session() as http:
                    answers += [
                        http.get(link, headers={"User-Agent": BROWSER}, allow_redirects=False) for _ in range(10)
                    ]
                    answers.append(http.head(link, headers={"User-Agent": BROWSER}, allow_redirects=False))
                    answers.append(http.get(link, headers={"User-Agent": "Twitterbot/1.0"}, allow_redirects=False))
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(STOP_TIMEOUT_S)

    assert [a.status_code for a in answers] == [302] * len(answers)
    assert all("lp_click=" in a.headers["Location"] for a in answers)
    assert returncode == 0, (tmp_path / "gunicorn.log").read_text()
    clicks, unique = session.execute(
        select(func.sum(ClickStat.clicks), func.sum(ClickStat.unique_clicks)).where(
            ClickStat.link_id == int(world.link["id"])
        )
    ).one()
    assert (clicks, unique) == (40, 1)  # the browser's GETs; not HEAD, not the bot
