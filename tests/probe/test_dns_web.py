"""DNS runner (system resolver, real only for localhost) and web runner against local HTTP and
HTTPS servers on loopback (self-signed certificate made with the openssl CLI)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind, Kind
from lomsong.probe.runners.base import TestContext
from lomsong.probe.runners.dns import DnsRunner, resolve_with_timeout, system_nameserver
from lomsong.probe.runners.web import WebRunner, parse_status_line


def _raise(exc: OSError) -> Any:
    def resolver(name: str) -> list[Any]:
        raise exc

    return resolver


def test_dns_localhost_is_real(ctx: TestContext) -> None:
    (m,) = DnsRunner(names=("localhost",)).start_test(ctx)
    assert m.kind is Kind.DNS and m.error_kind is None and m.dns_ms is not None
    assert m.raw is not None and "127.0.0.1" in m.raw and m.interface is None


def test_dns_failures_have_kinds(ctx: TestContext) -> None:
    gone = _raise(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    again = _raise(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    (a,) = DnsRunner(names=("dichvucong.invalid",), resolver=gone).start_test(ctx)
    (b,) = DnsRunner(names=("hanoi.invalid",), resolver=again).start_test(ctx)
    assert a.error_kind is ErrorKind.DNS_FAILURE and "dichvucong.invalid" in (a.error_message or "")
    assert b.error_kind is ErrorKind.TIMEOUT


def test_dns_timeout_does_not_wait_for_the_resolver(ctx: TestContext) -> None:
    release = threading.Event()

    def stuck(name: str) -> list[Any]:
        release.wait(10)
        return []

    try:
        (m,) = DnsRunner(names=("slow.invalid",), timeout_s=0.05, resolver=stuck).start_test(ctx)
    finally:
        release.set()
    assert m.error_kind is ErrorKind.TIMEOUT and "0.05" in (m.error_message or "")
    with pytest.raises(OSError):
        resolve_with_timeout("x", timeout_s=1, resolver=_raise(OSError("boom")))


def test_nameserver_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch lan\nnameserver 203.113.131.1\nnameserver 8.8.8.8\n")
    assert system_nameserver(conf) == "203.113.131.1"
    assert system_nameserver(tmp_path / "absent") is None


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 404 if self.path == "/missing" else (302 if self.path == "/old" else 200)
        body = b"<html>" + b"x" * 5000 + b"</html>"
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_server(
    http_server: ThreadingHTTPServer, certificate: tuple[Path, Path]
) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_http_page_split(ctx: TestContext, http_server: ThreadingHTTPServer) -> None:
    port = http_server.server_address[1]
    (m,) = WebRunner(url=f"http://localhost:{port}/").start_test(ctx)
    assert m.kind is Kind.WEB_PAGE and m.error_kind is None, m.error_message
    assert m.http_status == 200 and m.tls_ms is None
    assert None not in (m.dns_ms, m.connect_ms, m.ttfb_ms, m.duration_s)
    assert m.bytes_used is not None and m.bytes_used > 5000
    assert m.raw is not None and m.raw.startswith("HTTP/1.0 200")


def test_redirect_is_an_answer_and_404_an_error(ctx: TestContext, http_server: ThreadingHTTPServer) -> None:
    port = http_server.server_address[1]
    (moved,) = WebRunner(url=f"http://127.0.0.1:{port}/old").start_test(ctx)
    (missing,) = WebRunner(url=f"http://127.0.0.1:{port}/missing").start_test(ctx)
    assert moved.error_kind is None and moved.http_status == 302
    assert missing.error_kind is ErrorKind.HTTP_ERROR and missing.http_status == 404


def test_https_split_with_trusted_certificate(
    ctx: TestContext, https_server: ThreadingHTTPServer, certificate: tuple[Path, Path]
) -> None:
    port = https_server.server_address[1]
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    (m,) = WebRunner(url=f"https://localhost:{port}/", ssl_context=trust).start_test(ctx)
    assert m.error_kind is None, m.error_message
    assert m.tls_ms is not None and m.tls_ms > 0 and m.http_status == 200


def test_untrusted_certificate_is_tls_failure(ctx: TestContext, https_server: ThreadingHTTPServer) -> None:
    port = https_server.server_address[1]
    (m,) = WebRunner(url=f"https://localhost:{port}/").start_test(ctx)
    assert m.error_kind is ErrorKind.TLS_FAILURE and "certificate" in (m.error_message or "")
    assert m.connect_ms is not None and m.tls_ms is None


def test_refused_dns_and_timeout(ctx: TestContext, free_port: int) -> None:
    (refused,) = WebRunner(url=f"http://127.0.0.1:{free_port}/").start_test(ctx)
    assert refused.error_kind is ErrorKind.CONNECTION_REFUSED
    gone = _raise(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    (dns,) = WebRunner(url="https://dichvucong.invalid/", resolver=gone).start_test(ctx)
    assert dns.error_kind is ErrorKind.DNS_FAILURE
    with socket.socket() as silent:  # accepts (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        (slow,) = WebRunner(url=url, timeout_s=0.3).start_test(ctx)
    assert slow.error_kind is ErrorKind.TIMEOUT and slow.connect_ms is not None


def test_status_line_parser() -> None:
    assert parse_status_line(b"HTTP/2 204 \r\n") == 204
    with pytest.raises(ParseError, match="not an HTTP status line"):
        parse_status_line(b"SSH-2.0-OpenSSH_9.2\r\n")
