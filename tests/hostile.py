"""A loopback HTTP(S) server that answers byte for byte what a test scripts, and records what it receives.

Hostile-answer, redirect, TLS and fuzz tests use it to play a misbehaving vendor: truncated bodies,
bad encodings, duplicate cookies, redirects to a second server, self-signed certificates.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus


@dataclass
class Received:
    """One request as the server saw it (raw, so a leak in any form is visible)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def text(self) -> str:
        head = "\n".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.method} {self.path}\n{head}\n\n{self.body.decode('latin-1')}"


@dataclass
class Reply:
    """Raw bytes to write; ``close`` ends the connection afterwards (truncated bodies, bad framing)."""

    raw: bytes
    close: bool = False
    # Streamed after ``raw`` (huge bodies without holding them in memory).
    stream: Iterable[bytes] = ()


def reply(
    status: int = 200,
    body: bytes | str | object = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    reason: str = "X",
    content_length: bool = True,
    close: bool = False,
) -> Reply:
    """A well-formed answer (unless the caller's headers say otherwise); dicts/lists become JSON."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status} {reason}"]
    header_list = list(headers)
    if not any(k.lower() == "content-type" for k, _ in header_list) and not isinstance(body, bytes):
        header_list.append(("Content-Type", "application/json"))
    if content_length and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in header_list):
        header_list.append(("Content-Length", str(len(data))))
    if close:
        header_list.append(("Connection", "close"))
    lines += [f"{k}: {v}" for k, v in header_list]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
    return Reply(head + data, close=close)


Responder = Callable[[Received], Reply]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            try:
                received = self._read()
            except (OSError, ValueError):
                return
            if received is None:
                return
            with self.server.lock:
                self.server.received.append(received)
                responder = self.server.responder
            answer = responder(received)
            try:
                self.wfile.write(answer.raw)
                for chunk in answer.stream:
                    self.wfile.write(chunk)
                    with self.server.lock:
                        self.server.streamed += len(chunk)
                self.wfile.flush()
            except OSError:
                return
            if answer.close:
                return

    def _read(self) -> Received | None:
        line = self.rfile.readline(65537)
        if not line:
            return None
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        body = self.rfile.read(length) if length else b""
        return Received(method, path, headers, body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.connections = 0
        self.streamed = 0
        self.responder: Responder = lambda r: reply(200, {})

    def get_request(self) -> tuple[socket.socket, object]:
        sock, addr = super().get_request()
        # Counted before the TLS handshake: a client can only reject the certificate after this.
        with self.lock:
            self.connections += 1
        if self.tls is not None:
            sock.settimeout(5)
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except OSError:  # a client that rejects the certificate; socketserver ignores OSError
                sock.close()
                raise
            sock.settimeout(30)
        return sock, addr


class HostileServer:
    """``with HostileServer() as s: s.answer(lambda r: reply(302, headers=[("Location", …)]))``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server(tls)
        self._thread = threading.Thread(target=self._server.serve_forever, name="hostile-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        scheme = "https" if self._server.tls else "http"
        return f"{scheme}://{host}:{port}"

    @property
    def netloc(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def received(self) -> list[Received]:
        with self._server.lock:
            return list(self._server.received)

    @property
    def connections(self) -> int:
        """TCP connections accepted (a refused TLS handshake counts too)."""
        with self._server.lock:
            return self._server.connections

    @property
    def streamed(self) -> int:
        """Bytes of ``Reply.stream`` the client accepted before it stopped reading."""
        with self._server.lock:
            return self._server.streamed

    def answer(self, responder: Responder | Reply) -> None:
        self._server.responder = responder if callable(responder) else (lambda r: responder)

    def reset(self) -> None:
        with self._server.lock:
            self._server.received.clear()
            self._server.connections = 0
            self._server.streamed = 0

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------- TLS


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A fresh self-signed certificate for ``host`` (IP SAN), written as PEM; returns (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile test vendor")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# --------------------------------------------------------------------------- leak detection (independent of the code under test)


def encodings(secret: str, login: str | None = None) -> Iterator[str]:
    """Forms in which a secret can come back in a vendor's answer; none may reach an error or a log.

    Literal, JSON-escaped (once and twice), Python-repr-escaped, URL-encoded (quote, quote_plus,
    lower-case hex), base64 (standard and URL-safe, the part that depends only on the secret at
    each of the three alignments: catches ``login:secret`` Basic auth too).
    """
    yield secret
    once = json.dumps(secret)[1:-1]
    yield once
    yield json.dumps(once)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield repr(secret)[1:-1]
    for form in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        yield form
        yield _lower_hex(form)
    data = secret.encode()
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * pad + data).decode()
            start = -(-8 * pad // 6)
            end = (8 * (pad + len(data))) // 6
            yield encoded[start:end]
    if login is not None:
        yield base64.b64encode(f"{login}:{secret}".encode()).decode()


def _lower_hex(text: str) -> str:
    import re

    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def leaked(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Descriptions (never the secret) of every secret form found in ``texts``."""
    blob = "\n".join(texts)
    found = []
    for index, secret in enumerate(secrets):
        for number, form in enumerate(dict.fromkeys(encodings(secret))):
            if len(form) >= 6 and form in blob:
                found.append(f"secret #{index} form #{number}")
    return found


def error_texts(exc: BaseException) -> list[str]:
    """Everything of an error that reaches a user, a log or Airflow's database."""
    texts = [str(exc), repr(exc), repr(exc.args)]
    to_dict = getattr(exc, "to_dict", None)
    if to_dict is not None:
        texts.append(json.dumps(to_dict(), default=str))
    return texts


# A well-formed campaign id per connection type: ids are checked per vendor before any request
# (Whatomate takes UUIDs, Insider positive integers), so a hostile-answer test must pass that check.
WELL_FORMED_IDS = {"whatomate": "5b1c7c9e-0000-4000-a000-000000000042", "whatomate_jwt": "5b1c7c9e-0000-4000-a000-000000000042"}


def campaign_id_for(conn_type: str) -> str:
    return WELL_FORMED_IDS.get(conn_type, "42")


# --------------------------------------------------------------------------- the credentials under attack

# Secrets with the characters that need escaping in JSON, URLs and shells: each encoding must be scrubbed.
API_KEY = 'k3y-"quoted"\\back/sl+sh=&x'
CLIENT_SECRET = 'cl1ent"secret\\with/odd+chars'
PASSWORD = 'p@ss"word\\with spaces&more'
LOGIN = "me@example.com"
SECRETS = (API_KEY, CLIENT_SECRET, PASSWORD)

#: conn_type -> connection fields (the host is filled in by each test)
SCHEMES: dict[str, dict[str, Any]] = {
    "sprl": {"login": "client-1", "password": API_KEY, "extra": {"account_id": "acc-1"}},
    "insider_whatsapp": {"password": API_KEY},
    "insider_whatsapp_oauth": {"login": "client-1", "password": CLIENT_SECRET},
    "whatomate": {"password": API_KEY},
    "whatomate_jwt": {"login": LOGIN, "password": PASSWORD},
    "waplify": {"password": API_KEY, "extra": {"waba_phone_id": "waba-1"}},
}
#: where the minting schemes send their credentials first
AUTH_PATHS = ("/auth/token", "/api/auth/login")
#: schemes that mint a token (or log in) before the API call
MINTING = ("insider_whatsapp_oauth", "whatomate_jwt")
