"""Keep-alive HTTP connections to one origin (scheme, host, port), shared safely by threads.

A call takes an idle connection from the pool, or opens a new one, and gives it
back only once its answer has been read to the end; so two threads never share
a connection, and a half-read answer never reaches the next call. At most
``IDLE_CONNECTIONS_MAX`` connections stay open while idle.

Servers close idle keep-alive connections when they like. A pooled connection
the server has already closed is noticed before use (it reads as EOF) and
dropped. If the server closes it in the instant between that check and the
request, the call fails before any answer arrives: it is sent once more on a new
connection, without counting as a retry, but only when the caller says it is
safe to send twice (a GET, or a mutation carrying an Idempotency-Key, which the
platform answers once). Anything else is the caller's to retry or report.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import weakref
from collections.abc import Mapping

__all__ = ["IDLE_CONNECTIONS_MAX", "RESPONSE_BYTES_MAX", "ConnectionPool", "Reply"]

IDLE_CONNECTIONS_MAX = 8
RESPONSE_BYTES_MAX = 10 * 1024 * 1024

Reply = tuple[int, dict[str, str], bytes]

# What a reused connection raises when the server closed it before reading the request.
STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


class ConnectionPool:
    """The idle connections of one client to one origin; see the module docstring."""

    def __init__(self, scheme: str, host: str, port: int, *, timeout_s: float) -> None:
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, got {scheme!r}")
        self.scheme = scheme
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.opened = 0  # connections opened so far, for tests and diagnostics
        self._tls = ssl.create_default_context() if scheme == "https" else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        # A client dropped without close() still closes its sockets when collected.
        self._finalizer = weakref.finalize(self, _close_all, self._idle)

    def send(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str], *, resendable: bool
    ) -> Reply:
        """One request and its whole answer; raises OSError or HTTPException when it fails."""
        connection, reused = self._take()
        try:
            return self._exchange(connection, method, target, body, headers)
        except STALE_CONNECTION_ERRORS:
            if not (reused and resendable):
                raise
        return self._exchange(self._open(), method, target, body, headers)

    def close(self) -> None:
        """Close the idle connections now, and the busy ones when their call ends."""
        with self._lock:
            self._closed = True
            _close_all(self._idle)

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._closed:
                raise ValueError("the client is closed")
            while self._idle:
                connection = self._idle.pop()
                if connection.sock is not None and not _closed_by_peer(connection.sock):
                    return connection, True
                connection.close()
        return self._open(), False

    def _open(self) -> http.client.HTTPConnection:
        with self._lock:
            self.opened += 1
        if self._tls is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s, context=self._tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> Reply:
        try:
            connection.request(method, target, body=body, headers=dict(headers))
            response = connection.getresponse()
            payload = response.read(RESPONSE_BYTES_MAX)
        except BaseException:
            connection.close()
            raise
        # Reusable only when the answer was read to its end and the server keeps the connection open.
        if response.isclosed() and not response.will_close and connection.sock is not None:
            self._give_back(connection)
        else:
            connection.close()
        return response.status, dict(response.getheaders()), payload

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < IDLE_CONNECTIONS_MAX:
                self._idle.append(connection)
                return
        connection.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    # An idle keep-alive socket has nothing to read; readable means EOF (closed) or garbage.
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    while connections:
        connections.pop().close()
