"""DNS resolution time through the system resolver (``getaddrinfo``), with a timeout.

Why the system resolver and not ``dig``: it is what citizens' browsers and apps go through
(resolv.conf, NetworkManager's per-connection servers, nsswitch), it needs no extra package on
Raspberry Pi OS Lite (``dig`` is in ``bind9-dnsutils``, not installed by default), and its
failures (``EAI_NONAME``, ``EAI_AGAIN``) are exactly the ones users meet. Its limit: it cannot
be bound to one interface, so the test measures the resolver behind the *default route*; the
cycle runs it only on the path that carries the default route (see `probe.cycle`).

``getaddrinfo`` cannot be cancelled, so it runs in a daemon thread and the runner stops waiting
after `timeout_s` (the thread finishes on its own; the result is then discarded).

Example
-------
>>> from lomsong.probe.record import ErrorKind
>>> classify_gai_error(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
<ErrorKind.DNS_FAILURE: 'dns_failure'>
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from lomsong.probe.record import ErrorKind, Kind, Measurement
from lomsong.probe.runners.base import Runner, Stamp, TestContext

__all__ = [
    "DnsRunner",
    "Resolver",
    "classify_gai_error",
    "resolve_with_timeout",
    "system_nameserver",
    "system_resolve",
]

Resolver = Callable[[str], list[Any]]
RESOLV_CONF: Final = Path("/etc/resolv.conf")
_DNS_EXCHANGE_BYTES: Final = 200  # one query and one answer over UDP, typical size


def system_resolve(name: str) -> list[Any]:
    """`socket.getaddrinfo` for TCP addresses of `name` (the resolver apps use)."""
    return socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)


def classify_gai_error(exc: OSError) -> ErrorKind:
    """`timeout` for EAI_AGAIN (no answer in time), `dns_failure` for every other resolver error."""
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
        return ErrorKind.TIMEOUT
    return ErrorKind.DNS_FAILURE


def resolve_with_timeout(
    name: str, *, timeout_s: float, resolver: Resolver = system_resolve
) -> tuple[list[Any], float]:
    """Resolve `name`; returns (addresses, elapsed ms). Raises `TimeoutError` or the resolver's
    `OSError` (`socket.gaierror`)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        started = time.perf_counter()
        try:
            outcome["value"] = resolver(name)
        except OSError as exc:
            outcome["error"] = exc
        outcome["ms"] = (time.perf_counter() - started) * 1000
        done.set()

    threading.Thread(target=work, name=f"dns-{name}", daemon=True).start()
    if not done.wait(timeout_s):
        raise TimeoutError(f"no answer for {name} within {timeout_s:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], float(outcome["ms"])


def system_nameserver(path: Path = RESOLV_CONF) -> str | None:
    """The first ``nameserver`` in resolv.conf (for the record's `server`), or None."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            return parts[1]
    return None


@dataclass
class DnsRunner(Runner):
    """Resolve each name once; one Measurement per name (kind ``dns``, `dns_ms`)."""

    names: tuple[str, ...]
    timeout_s: float = 5.0
    resolver: Resolver = system_resolve
    nameserver: Callable[[], str | None] = system_nameserver
    tool: str = field(default="getaddrinfo", init=False)
    kind: Kind = field(default=Kind.DNS, init=False)

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        server = self.nameserver()
        out: list[Measurement] = []
        for index, name in enumerate(self.names):
            one = stamp if index == 0 else ctx.stamp()
            common: dict[str, Any] = {"server": server, "interface": None, "raw": name}
            try:
                addresses, elapsed_ms = resolve_with_timeout(
                    name, timeout_s=self.timeout_s, resolver=self.resolver
                )
            except TimeoutError as exc:
                out.append(self._failed(ctx, one, ErrorKind.TIMEOUT, str(exc), common))
                continue
            except OSError as exc:
                message = f"{name}: {exc}"
                out.append(self._failed(ctx, one, classify_gai_error(exc), message, common))
                continue
            resolved = sorted({str(a[4][0]) for a in addresses})
            out.append(ctx.measurement(
                one, kind=self.kind, tool=self.tool, dns_ms=elapsed_ms,
                duration_s=elapsed_ms / 1000, bytes_used=_DNS_EXCHANGE_BYTES,
                **{**common, "raw": f"{name} -> {', '.join(resolved)}"},
            ))  # fmt: skip
        return out

    def _failed(
        self, ctx: TestContext, stamp: Stamp, kind: ErrorKind, message: str, common: dict[str, Any]
    ) -> Measurement:
        return ctx.measurement(
            stamp, kind=self.kind, tool=self.tool, error_kind=kind, error_message=message, **common
        )
