"""The province's SMTP relay and SMS/chat webhook, stood in for inside the lab.

Both listen on the control node's address on site 2's bridge (``10.213.3.1``), which the lab's
firewall lets the lab hosts reach and nothing outside the lab can: they receive only from the
lab. The SMTP sink is a real SMTP server (aiosmtpd) that insists on STARTTLS before AUTH and
checks the relay credentials from the inventory's secret, so a delivered message proves
Alertmanager used TLS and the secret reached it; the webhook sink checks the bearer token.
Each keeps what it received, with the sender's address, for the tests to read.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Mail:
    """One message the relay accepted: who sent it (the peer's address) and the message."""

    peer: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The subject and every text part, decoded: what a reader sees."""
        parts = [self.subject]
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                parts.append(str(part.get_content()))
        return "\n".join(parts)


@dataclass(frozen=True)
class Hook:
    """One webhook call: the peer's address and Alertmanager's JSON payload."""

    peer: str
    payload: dict[str, Any]


@dataclass
class Inbox:
    """What the sinks received, in order; safe to read from the test thread."""

    mails: list[Mail] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        """Forget what was received so far (a test that counts starts from nothing)."""
        with self.lock:
            self.mails.clear()
            self.hooks.clear()

    def snapshot(self) -> tuple[list[Mail], list[Hook]]:
        with self.lock:
            return list(self.mails), list(self.hooks)


def make_tls_context(directory: Path, address: IPv4Address) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for ``address``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "egov lab relay")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(address)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "relay.crt", directory / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


class _Relay:
    """aiosmtpd handler: keeps every message; the authenticator checks the relay secret."""

    def __init__(self, inbox: Inbox, username: str, password: str) -> None:
        self.inbox, self.username, self.password = inbox, username, password

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.username
            and data.password.decode() == self.password
        )
        if not ok:
            with self.inbox.lock:
                self.inbox.refused.append(f"{session.peer[0]}: bad credentials ({mechanism})")
        return AuthResult(success=ok)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(session.peer[0], tuple(envelope.rcpt_tos), message)
        with self.inbox.lock:
            self.inbox.mails.append(mail)
        return "250 OK"


def _hook_handler(inbox: Inbox, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.headers.get("Authorization") != f"Bearer {token}":
                with inbox.lock:
                    inbox.refused.append(f"{self.client_address[0]}: webhook without the token")
                self.send_response(401)
                self.end_headers()
                return
            with inbox.lock:
                inbox.hooks.append(Hook(self.client_address[0], json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the inbox, not the log."""

    return Handler


@contextmanager
def serving_sinks(
    address: IPv4Address,
    smtp_port: int,
    hook_port: int,
    credentials: tuple[str, str],
    token: str,
    directory: Path,
) -> Iterator[Inbox]:
    """Run the SMTP relay and the webhook sink on ``address`` until the block ends."""
    inbox = Inbox()
    relay = _Relay(inbox, *credentials)
    controller = Controller(
        relay,
        hostname=str(address),
        port=smtp_port,
        server_hostname="egov-lab-relay",
        tls_context=make_tls_context(directory, address),
        require_starttls=True,
        auth_require_tls=True,
        authenticator=relay.authenticate,
        # PLAIN, as relays offer it after STARTTLS. aiosmtpd's LOGIN prompts "User Name",
        # where relays (and Go's smtp client in Alertmanager) use "Username:".
        auth_exclude_mechanism=["LOGIN"],
    )
    # Controller's readiness check connects in clear, which require_starttls would refuse
    # mid-check; aiosmtpd handles that (it only waits for the greeting).
    controller.start()
    hooks = ThreadingHTTPServer((str(address), hook_port), _hook_handler(inbox, token))
    thread = threading.Thread(target=hooks.serve_forever, daemon=True)
    thread.start()
    try:
        yield inbox
    finally:
        hooks.shutdown()
        thread.join(timeout=5)
        hooks.server_close()
        controller.stop()
