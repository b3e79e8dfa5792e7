"""Web reachability: time to fetch a public-service page, split into DNS, connect, TLS, first byte.

Raw sockets and `ssl` rather than an HTTP client, so every phase is timed on its own and the
socket can be bound to the path's interface (``SO_BINDTODEVICE``). One ``GET`` with
``Connection: close``, no redirects followed (a 3xx is an answer: the portal is reachable); the
body is read up to `max_bytes`. Phases:

- ``dns_ms``: system resolver (see `probe.runners.dns`);
- ``connect_ms``: the TCP handshake;
- ``tls_ms``: the TLS handshake (https only; certificates verified);
- ``ttfb_ms``: from the request sent to the first byte of the answer.

Failures carry their kind: ``dns_failure``, ``connection_refused``, ``network_unreachable``,
``timeout``, ``tls_failure``, ``http_error`` (status >= 400, with ``http_status``).

Example
-------
>>> parse_status_line(b"HTTP/1.1 302 Found\\r\\nLocation: /home\\r\\n")
302
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import Runner, Stamp, TestContext
from lomsong.probe.runners.dns import Resolver, classify_gai_error, resolve_with_timeout, system_resolve

__all__ = ["WebRunner", "parse_status_line"]

_USER_AGENT: Final = "lomsong-probe/1 (+network quality survey)"
_UNREACHABLE: Final = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENODEV, errno.EADDRNOTAVAIL})


def parse_status_line(head: bytes) -> int:
    """The status code of an HTTP/1.x answer; `ParseError` when the first line is not one."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ParseError(f"not an HTTP status line: {line[:80]!r}", source="web")
    status = int(parts[1])
    if not 100 <= status <= 599:
        raise ParseError(f"HTTP status {status} out of range", source="web")
    return status


class _Failed(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _os_kind(exc: OSError) -> ErrorKind:
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.CONNECTION_REFUSED
    if isinstance(exc, TimeoutError):
        return ErrorKind.TIMEOUT
    if exc.errno in _UNREACHABLE:
        return ErrorKind.NETWORK_UNREACHABLE
    return ErrorKind.TOOL_ERROR


@dataclass
class WebRunner(Runner):
    """Fetch one URL over the path's interface; one ``web_page`` Measurement."""

    url: str
    timeout_s: float = 15.0
    max_bytes: int = 2_000_000
    ssl_context: ssl.SSLContext | None = None
    resolver: Resolver = system_resolve
    tool: str = field(default="lomsong-http", init=False)
    kind: Kind = field(default=Kind.WEB_PAGE, init=False)

    @property
    def server(self) -> str:  # type: ignore[override]
        return self.url[:255]

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        timings: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            self._fetch(ctx.interface, timings, started + self.timeout_s)
        except _Failed as exc:
            return [self.failure(ctx, stamp, exc.kind, str(exc), **self._tail(timings, started))]
        status = timings["http_status"]
        if status >= 400:
            message = f"HTTP {status} from {self.url}"
            return [self.failure(ctx, stamp, ErrorKind.HTTP_ERROR, message, **self._tail(timings, started))]
        return [ctx.measurement(
            stamp, kind=self.kind, tool=self.tool, server=self.server, **self._tail(timings, started)
        )]  # fmt: skip

    @staticmethod
    def _tail(timings: dict[str, Any], started: float) -> dict[str, Any]:
        return {**timings, "duration_s": time.perf_counter() - started}

    def _left(self, deadline: float, phase: str) -> float:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise _Failed(ErrorKind.TIMEOUT, f"{self.url}: timed out before {phase}")
        return left

    def _fetch(self, interface: str | None, timings: dict[str, Any], deadline: float) -> None:
        parts = urlsplit(self.url)
        host, secure = parts.hostname or "", parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        try:
            infos, timings["dns_ms"] = resolve_with_timeout(
                host, timeout_s=self._left(deadline, "DNS"), resolver=self.resolver
            )
        except TimeoutError as exc:
            raise _Failed(ErrorKind.TIMEOUT, f"DNS {exc}") from exc
        except OSError as exc:
            raise _Failed(classify_gai_error(exc), f"DNS {host}: {exc}") from exc
        family, address = infos[0][0], infos[0][4]
        sock = socket.socket(family, socket.SOCK_STREAM)
        stream: socket.socket = sock
        try:
            if interface is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            sock.settimeout(self._left(deadline, "connect"))
            mark = time.perf_counter()
            try:
                sock.connect((address[0], port, *address[2:]))
            except OSError as exc:
                raise _Failed(_os_kind(exc), f"connect {host}:{port}: {exc}") from exc
            timings["connect_ms"] = (time.perf_counter() - mark) * 1000
            if secure:
                stream = self._handshake(sock, host, timings, deadline)
            self._exchange(stream, host, parts, timings, deadline)
        finally:
            stream.close()
            sock.close()

    def _handshake(
        self, sock: socket.socket, host: str, timings: dict[str, Any], deadline: float
    ) -> ssl.SSLSocket:
        context = self.ssl_context or ssl.create_default_context()
        sock.settimeout(self._left(deadline, "TLS"))
        mark = time.perf_counter()
        try:
            stream = context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLError as exc:
            raise _Failed(ErrorKind.TLS_FAILURE, f"TLS with {host}: {exc}") from exc
        except TimeoutError as exc:
            raise _Failed(ErrorKind.TIMEOUT, f"TLS with {host}: timed out") from exc
        except OSError as exc:
            raise _Failed(ErrorKind.TLS_FAILURE, f"TLS with {host}: {exc}") from exc
        timings["tls_ms"] = (time.perf_counter() - mark) * 1000
        return stream

    def _exchange(
        self, stream: socket.socket, host: str, parts: Any, timings: dict[str, Any], deadline: float
    ) -> None:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: {_USER_AGENT}\r\n"
            "Accept: text/html,*/*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
        ).encode()
        received = b""
        total = 0
        try:
            stream.settimeout(self._left(deadline, "request"))
            stream.sendall(request)
            mark = time.perf_counter()
            while total < self.max_bytes:
                stream.settimeout(self._left(deadline, "answer"))
                chunk = stream.recv(65536)
                if not chunk:
                    break
                if total == 0:
                    timings["ttfb_ms"] = (time.perf_counter() - mark) * 1000
                total += len(chunk)
                if len(received) < 16_384:
                    received += chunk
        except TimeoutError as exc:
            timings["bytes_used"] = len(request) + total
            raise _Failed(ErrorKind.TIMEOUT, f"{self.url}: no complete answer in time") from exc
        except OSError as exc:
            timings["bytes_used"] = len(request) + total
            raise _Failed(ErrorKind.INTERRUPTED, f"{self.url}: {exc}") from exc
        timings["bytes_used"] = len(request) + total
        if total == 0:
            raise _Failed(ErrorKind.HTTP_ERROR, f"{self.url}: connection closed without an answer")
        head = received.split(b"\r\n\r\n", 1)[0]
        timings["raw"] = bounded_raw(head.decode("latin-1"), 4000)
        try:
            timings["http_status"] = parse_status_line(head)
        except ParseError as exc:
            raise _Failed(ErrorKind.HTTP_ERROR, f"{self.url}: {exc}") from exc
