"""A fake Alertmanager on loopback: it stands in for the real one (0.25, API v2), which the
lab suite exercises on the monitoring hosts.

It keeps silences in memory and answers the four calls egov makes, as Alertmanager 0.25
does: ``POST /api/v2/silences`` answers ``{"silenceID": …}``; ``DELETE
/api/v2/silence/{id}`` answers 404 for an unknown id and 500 for one expired already;
``GET /api/v2/silences`` lists them with their state; ``GET /api/v2/alerts`` returns the
alerts a test put in ``alerts`` (as the API's JSON), and records the query it was given.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback import serving


@dataclass
class FakeAlertmanager:
    """The fake's state; ``url`` is set once it serves."""

    url: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    silences: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path with query)
    #: answer every request with this HTTP status instead (0: answer normally)
    refuse_with: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get_live(self) -> list[dict[str, Any]]:
        """The silences not expired."""
        now = datetime.now(UTC)
        return [s for s in self.silences.values() if _state(s, now) != "expired"]

    def add_silence(self, created_by: str, comment: str, **labels: str) -> str:
        """A silence set by someone else (by hand, by another drill): its id."""
        silence_id = str(uuid.uuid4())
        self.silences[silence_id] = {
            "id": silence_id,
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in labels.items()
            ],
            "startsAt": "2026-12-05T08:00:00Z",
            "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": created_by,
            "comment": comment,
        }
        return silence_id


def _state(silence: dict[str, Any], now: datetime) -> str:
    if datetime.fromisoformat(silence["endsAt"]) <= now:
        return "expired"
    return "pending" if datetime.fromisoformat(silence["startsAt"]) > now else "active"


def _handler(fake: FakeAlertmanager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _begin(self) -> str | None:
            with fake.lock:
                fake.requests.append((self.command, self.path))
            if fake.refuse_with:
                self._send(fake.refuse_with, "refused: secret-looking body must not show")
                return None
            return urlsplit(self.path).path

        def do_GET(self) -> None:
            path = self._begin()
            now = datetime.now(UTC)
            if path == "/api/v2/alerts":
                query = parse_qs(urlsplit(self.path).query)
                if query != {"active": ["true"], "silenced": ["true"], "inhibited": ["true"]}:
                    self._send(400, "egov must ask for every alert")
                    return
                self._send(200, fake.alerts)
            elif path == "/api/v2/silences":
                with fake.lock:
                    listed = [
                        {**s, "status": {"state": _state(s, now)}} for s in fake.silences.values()
                    ]
                self._send(200, listed)
            elif path is not None:
                self._send(404, "not found")

        def do_POST(self) -> None:
            path = self._begin()
            if path != "/api/v2/silences":
                if path is not None:
                    self._send(404, "not found")
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            required = {"matchers", "startsAt", "endsAt", "createdBy", "comment"}
            if not required <= set(body) or not body["matchers"]:
                self._send(400, "silence invalid")
                return
            # an edit of a silence the Alertmanager holds expires it and creates another, as
            # Alertmanager does when it cannot change the silence in place
            silence_id = str(uuid.uuid4())
            with fake.lock:
                edited = fake.silences.get(body.pop("id", ""))
                if edited is not None:
                    edited["endsAt"] = datetime.now(UTC).isoformat()
                fake.silences[silence_id] = {**body, "id": silence_id}
            self._send(200, {"silenceID": silence_id})

        def do_DELETE(self) -> None:
            path = self._begin()
            if path is None:
                return
            silence_id = path.removeprefix("/api/v2/silence/")
            with fake.lock:
                silence = fake.silences.get(silence_id)
                if silence is None:
                    self._send(404, "silence not found")
                    return
                now = datetime.now(UTC)
                if _state(silence, now) == "expired":
                    self._send(500, f"silence {silence_id} already expired")
                    return
                silence["endsAt"] = now.isoformat()
            self._send(200)

    return Handler


@contextmanager
def serving_alertmanager() -> Iterator[FakeAlertmanager]:
    """A fake Alertmanager serving on loopback for the duration of the block."""
    fake = FakeAlertmanager()
    with serving(_handler(fake)) as url:
        fake.url = url
        yield fake
