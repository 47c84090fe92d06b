"""The redirect's state, per process: a short-TTL link cache and a click buffer.

A click never waits on a database write: it is counted in memory and a
background thread adds the counts to ``click_stats`` every
``CLICK_FLUSH_INTERVAL_S``; ``flush`` does the same on demand (tests, clean
shutdown through atexit and gunicorn's ``worker_exit``). Links are read
through a cache of ``CLICK_LINK_CACHE_TTL_S`` seconds, so a paused link stops
redirecting at most that long after the change.
"""

from __future__ import annotations

import atexit
import enum
import functools
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import crawleruseragents
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app import metrics, unit_of_work
from app.affiliates.models import LIVE_LINK_BY_CODE
from app.clicks.models import ClickStat, ClickVisitor
from app.clicks.tokens import ClickTokens
from app.constants import (
    CLICK_AGENT_CACHE_MAX,
    CLICK_BUFFER_KEYS_MAX,
    CLICK_LINK_CACHE_MAX,
    CLICK_LINK_CACHE_TTL_S,
)
from ledger import dialect_insert

log = logging.getLogger(__name__)
# A link code as app.affiliates makes them: anything else is no link, known without a query.
CODE = re.compile(r"[A-Za-z0-9_-]{4,32}")
# Link previews, crawlers and scripts follow links without a person behind them:
# they get the redirect but are not counted. Matched case-insensitively in the User-Agent.
NOT_COUNTED_AGENTS = (
    "slackbot",
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "discordbot",
    "whatsapp",
    "linkedinbot",
    "telegrambot",
    "googlebot",
    "bingbot",
    "applebot",
    "yandexbot",
    "duckduckbot",
    "baiduspider",
    "skypeuripreview",
    "pinterestbot",
    "redditbot",
    "embedly",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "headlesschrome",
    # Generic words of robots' agents, and HTTP libraries the corpus does not list.
    "crawler",
    "spider",
    "scraper",
    "preview",
    "python-httpx",
    "aiohttp",
    "axios/",
    "node-fetch",
    "okhttp",
    "java/",
    "libwww-perl",
    "phantomjs",
    "lighthouse",
)
_NOT_COUNTED = re.compile("|".join(re.escape(agent) for agent in NOT_COUNTED_AGENTS), re.IGNORECASE)
VISITOR_HOURS_KEPT = 2


@dataclass(frozen=True)
class Target:
    link_id: int
    affiliate_id: int
    program_id: int
    landing_url: str
    # The landing URL split around where the click token goes, once per cached link.
    token_at: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_at", token_slot(self.landing_url))

    def location(self, token: str) -> str:
        """The landing URL with ``lp_click=token`` (the token's alphabet needs no quoting)."""
        before, after = self.token_at
        return before + token + after


def token_slot(landing_url: str) -> tuple[str, str]:
    """``landing_url`` up to and after where ``lp_click`` goes: its own query (less any
    ``lp_click`` it had) and fragment stay as they were."""
    parts = urlsplit(landing_url)
    kept = [pair for pair in parts.query.split("&") if pair and not pair.startswith("lp_click=")]
    kept.append("lp_click=")
    before = urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), ""))
    return before, ("#" + parts.fragment if parts.fragment else "")


class Uncached(enum.Enum):
    UNCACHED = "uncached"


UNCACHED = Uncached.UNCACHED


@dataclass
class _Bucket:
    clicks: int = 0
    visitors: set[str] = field(default_factory=set)


class ClickState:
    """One per app and process."""

    def __init__(self, app: Flask, clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.clock = clock
        self.tokens = ClickTokens(app.config["CLICK_TOKEN_KEYS"])
        self._visitor_key = hashlib.sha256(b"click-visitor:" + app.config["SECRET_KEY"].encode()).digest()
        self._cache: dict[str, tuple[float, Target | None]] = {}
        self._buffer: dict[tuple[int, datetime], _Bucket] = {}
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flusher_pid: int | None = None
        self._flusher_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------- links

    def resolve(self, session_of: Callable[[], Session], code: str) -> Target | None:
        """The live link behind ``code`` (or None), from the cache when fresh; a
        session is only asked of ``session_of`` on a miss."""
        cached = self.cached(code)
        if cached is not UNCACHED:
            return cached
        return self.load(session_of(), code)

    def cached(self, code: str) -> Target | None | Uncached:
        """The cache's fresh answer for ``code``: a link, None (no live link), or ``UNCACHED``."""
        entry = self._cache.get(code)
        if entry is not None and entry[0] > self.clock():
            return entry[1]
        return UNCACHED

    def load(self, session: Session, code: str) -> Target | None:
        """The live link behind ``code`` read from the database, and kept in the cache."""
        row = session.execute(LIVE_LINK_BY_CODE, {"code": code}).first()
        target = None if row is None else Target(*row)
        if len(self._cache) >= CLICK_LINK_CACHE_MAX:
            self._cache.clear()
        self._cache[code] = (self.clock() + CLICK_LINK_CACHE_TTL_S, target)
        return target

    # ------------------------------------------------------------- counting

    def visitor(self, ip: str, user_agent: str) -> str:
        """A keyed hash of who clicked: equal for the same visitor, useless to recover the IP."""
        message = f"{ip}\x00{user_agent}".encode()
        return hmac.new(self._visitor_key, message, hashlib.sha256).hexdigest()[:32]

    def record(self, link_id: int, at: datetime, visitor: str) -> None:
        hour = at.replace(minute=0, second=0, microsecond=0)
        self._ensure_flusher()
        with self._buffer_lock:
            if len(self._buffer) >= CLICK_BUFFER_KEYS_MAX and (link_id, hour) not in self._buffer:
                log.warning("click buffer full; a click was dropped")  # only if the flusher is stuck
                metrics.clicks_dropped.inc()
                return
            bucket = self._buffer.setdefault((link_id, hour), _Bucket())
            bucket.clicks += 1
            bucket.visitors.add(visitor)
        metrics.clicks_counted.inc()

    def flush(self) -> int:
        """Write the buffered counts; returns the clicks written. Waits for a flush in progress."""
        with self._flush_lock:
            with self._buffer_lock:
                buffered, self._buffer = self._buffer, {}
            if not buffered:
                return 0
            try:
                with self.app.app_context():
                    with unit_of_work.unit() as uow:
                        _write(uow.session, buffered)
                        written = uow.commit(sum(bucket.clicks for bucket in buffered.values()))
            except Exception:
                metrics.click_flush_failures.inc()
                self._merge_back(buffered)
                raise
            metrics.click_flushes.inc()
            metrics.click_flush_rows.inc(len(buffered))
            return written

    def _merge_back(self, buffered: dict[tuple[int, datetime], _Bucket]) -> None:
        with self._buffer_lock:
            for key, bucket in buffered.items():
                mine = self._buffer.setdefault(key, _Bucket())
                mine.clicks += bucket.clicks
                mine.visitors |= bucket.visitors

    def _ensure_flusher(self) -> None:
        # Started lazily in each process: gunicorn forks workers after the app is built.
        if self._flusher_pid == os.getpid():
            return
        with self._flusher_lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            interval_s = self.app.config["CLICK_FLUSH_INTERVAL_S"]
            if interval_s > 0:
                self._flusher = threading.Thread(
                    target=self._flush_forever, args=(interval_s,), daemon=True, name="click-flusher"
                )
                self._flusher.start()

    def _flush_forever(self, interval_s: float) -> None:
        while not self._stopping.wait(interval_s):
            try:
                self.flush()
            except Exception:  # the counts stay buffered; the next round retries
                log.exception("flushing click statistics failed")

    def stop(self, timeout_s: float = 10.0) -> int:
        """Stop the background flusher (waiting for a flush in progress), then write
        what is still buffered; returns the clicks written by that last flush."""
        self._stopping.set()
        flusher = self._flusher
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join(timeout_s)
        return self.flush()


def _write(session: Session, buffered: dict[tuple[int, datetime], _Bucket]) -> None:
    """Add the counts to ``click_stats``; a visitor is unique once per link and hour,
    across flushes and processes, thanks to ``click_visitors``."""
    insert = dialect_insert(session)
    visitor_table = ClickVisitor.__table__
    # RETURNING tells a new visitor apart on every driver (rowcount is not reliable here).
    visitors = insert(visitor_table).on_conflict_do_nothing().returning(visitor_table.c.link_id)
    stats_table = ClickStat.__table__
    upsert = insert(stats_table)
    upsert = upsert.on_conflict_do_update(
        index_elements=["link_id", "hour"],
        set_={
            "clicks": stats_table.c.clicks + upsert.excluded.clicks,
            "unique_clicks": stats_table.c.unique_clicks + upsert.excluded.unique_clicks,
        },
    )
    # A fixed order keeps concurrent flushers from deadlocking on PostgreSQL.
    for (link_id, hour), bucket in sorted(buffered.items()):
        new_visitors = 0
        for visitor in sorted(bucket.visitors):
            row = session.execute(visitors, {"link_id": link_id, "hour": hour, "visitor": visitor}).first()
            new_visitors += row is not None
        session.execute(
            upsert, {"link_id": link_id, "hour": hour, "clicks": bucket.clicks, "unique_clicks": new_visitors}
        )
    oldest = max(hour for _, hour in buffered) - timedelta(hours=VISITOR_HOURS_KEPT)
    session.execute(delete(ClickVisitor).where(ClickVisitor.hour < oldest))


def counted(method: str, user_agent: str) -> bool:
    """HEAD requests, empty agents, bots and link previews are not clicks."""
    return method == "GET" and bool(user_agent) and not robot(user_agent)


@functools.lru_cache(maxsize=CLICK_AGENT_CACHE_MAX)
def robot(user_agent: str) -> bool:
    """A crawler, spider, link preview or HTTP library: our own list of the common ones
    (and the generic words), then the crawler-user-agents corpus's patterns (about
    1,500, kept up to date on PyPI). Cached per agent: one visitor's repeat clicks cost
    one lookup."""
    return _NOT_COUNTED.search(user_agent) is not None or crawleruseragents.is_crawler(user_agent)


def state_of(app: Flask) -> ClickState:
    return app.extensions["clicks"]


def register(app: Flask) -> None:
    state = ClickState(app)
    app.extensions["clicks"] = state

    def _flush_at_exit():
        try:
            state.stop()
        except Exception:
            log.exception("flushing click statistics at exit failed")

    # Test databases are gone by exit time; tests flush explicitly.
    if not app.config.get("TESTING"):
        atexit.register(_flush_at_exit)


def flush(app: Flask) -> int:
    """Write every buffered click now (tests call this)."""
    return state_of(app).flush()


def stop(app: Flask) -> int:
    """Stop the background flusher and write what is left (shutdown hooks call this)."""
    return state_of(app).stop()
