"""The Alertmanagers' HTTP API v2 (Alertmanager 0.25): alerts and silences, typed.

Every monitoring host runs an Alertmanager (port ``topology.ALERTMANAGER_PORT``); they form
one cluster and gossip silences to each other, so any of them serves. ``AlertmanagerClient``
asks the first that answers (``endpoints.get_monitoring_urls``: the primary site's first),
keeps asking that one while it answers, and moves on when it does not: when the primary
site is gone, site 2's answers.

Only reaching a host is retried elsewhere (refused, timed out, unreachable). A host that
answers with an HTTP error has spoken for the cluster: that is raised at once, naming the
status code only (an error body may echo what was sent, such as a drill's comment).
Every call has a short timeout per host: drills call this in the lab suite and in
``make demo`` and must never hang on a monitoring host that is down.

The parsers are pure and take the JSON as it came: what is malformed is left out or empty,
never fatal, so one odd alert does not hide the others.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from egov.errors import MonitoringError

REQUEST_TIMEOUT_SECONDS = 5.0
API_PREFIX = "/api/v2"
#: The states Alertmanager gives a silence; an expired one silences nothing any more.
LIVE_SILENCE_STATES = frozenset({"active", "pending"})

Result = TypeVar("Result")
Value = TypeVar("Value")


@dataclass(frozen=True)
class Matcher:
    """One matcher of a silence: ``site="primary"``, ``severity=~"warning|critical"``."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def __str__(self) -> str:
        if self.is_equal:
            operator = "=~" if self.is_regex else "="
        else:
            operator = "!~" if self.is_regex else "!="
        return f"{self.name}{operator}{json.dumps(self.value, ensure_ascii=False)}"

    def to_json(self) -> dict[str, Any]:
        """The API's form: ``{"name": …, "value": …, "isRegex": …, "isEqual": …}``."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }


@dataclass(frozen=True)
class SilenceRequest:
    """A silence to create: what it matches, from when to when, who set it and why."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    #: set to change an existing silence (the Alertmanager may answer with a new id)
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST /api/v2/silences``."""
        body = {
            "matchers": [matcher.to_json() for matcher in self.matchers],
            "startsAt": format_timestamp(self.starts_at),
            "endsAt": format_timestamp(self.ends_at),
            "createdBy": self.created_by,
            "comment": self.comment,
        }
        return body if self.id is None else {"id": self.id, **body}


@dataclass(frozen=True)
class Silence:
    """A silence as the Alertmanager holds it; ``state`` is active, pending or expired."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    created_by: str
    comment: str
    state: str

    @property
    def live(self) -> bool:
        """Whether it silences (or will silence) anything: not expired."""
        return self.state in LIVE_SILENCE_STATES


@dataclass(frozen=True)
class Alert:
    """An alert as the Alertmanager holds it.

    ``state`` is ``active`` (notifying), ``suppressed`` (silenced or inhibited: see
    ``silenced_by``, the silence ids, and ``inhibited_by``, the fingerprints of the alerts
    that inhibit it) or ``unprocessed`` (just received).
    """

    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime | None
    state: str
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The ``alertname`` label ("" when absent)."""
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Answer(Generic[Value]):
    """What one Alertmanager (``url``) answered."""

    url: str
    value: Value


def format_timestamp(moment: datetime) -> str:
    """UTC RFC 3339 as the API takes it: ``2026-12-05T08:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(raw: Any) -> datetime | None:
    """An API timestamp (nanoseconds, ``Z`` or an offset) as an aware datetime; None when
    absent or not one."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _strings(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(key): str(value) for key, value in raw.items() if value is not None}


def _string_list(raw: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in raw) if isinstance(raw, list) else ()


def parse_matchers(raw: Any) -> tuple[Matcher, ...]:
    """The ``matchers`` of a silence; entries without a name are left out."""
    matchers = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and entry.get("name"):
            matchers.append(
                Matcher(
                    name=str(entry["name"]),
                    value=str(entry.get("value", "")),
                    is_regex=entry.get("isRegex") is True,
                    is_equal=entry.get("isEqual", True) is not False,
                )
            )
    return tuple(matchers)


def parse_alerts(data: Any) -> list[Alert]:
    """``GET /api/v2/alerts``'s list as Alerts; entries that are not objects are left out."""
    alerts = []
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict):
            continue
        raw_status = entry.get("status")
        status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        receivers = entry.get("receivers")
        alerts.append(
            Alert(
                fingerprint=str(entry.get("fingerprint", "")),
                labels=_strings(entry.get("labels")),
                annotations=_strings(entry.get("annotations")),
                starts_at=parse_timestamp(entry.get("startsAt")),
                state=str(status.get("state", "unprocessed")),
                silenced_by=_string_list(status.get("silencedBy")),
                inhibited_by=_string_list(status.get("inhibitedBy")),
                receivers=tuple(
                    str(receiver["name"])
                    for receiver in (receivers if isinstance(receivers, list) else [])
                    if isinstance(receiver, dict) and "name" in receiver
                ),
            )
        )
    return alerts


def parse_silences(data: Any) -> list[Silence]:
    """``GET /api/v2/silences``'s list as Silences; entries without an id are left out."""
    silences = []
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict) or not entry.get("id"):
            continue
        raw_status = entry.get("status")
        status: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        silences.append(
            Silence(
                id=str(entry["id"]),
                matchers=parse_matchers(entry.get("matchers")),
                starts_at=parse_timestamp(entry.get("startsAt")),
                ends_at=parse_timestamp(entry.get("endsAt")),
                created_by=str(entry.get("createdBy", "")),
                comment=str(entry.get("comment", "")),
                state=str(status.get("state", "")),
            )
        )
    return silences


class AlertmanagerRefused(MonitoringError):
    """An Alertmanager answered with an HTTP error: the cluster refused the request."""

    def __init__(self, url: str, what: str, code: int) -> None:
        super().__init__(
            f"Alertmanager {url} refused to {what} (HTTP {code})",
            "see that Alertmanager's log (journalctl -u prometheus-alertmanager)",
        )
        self.code = code


class _Unreachable(Exception):
    """One host could not be reached; ``reason`` says how (no secret: no body, no query)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AlertmanagerClient:
    """Talks to the first of ``urls`` that answers, and keeps to it while it answers.

    ``urls`` are base URLs (``http://10.213.1.40:9093``), in the order to try them.
    """

    def __init__(
        self, urls: Sequence[str], timeout_seconds: float = REQUEST_TIMEOUT_SECONDS
    ) -> None:
        self.urls = tuple(url.rstrip("/") for url in urls)
        self.timeout_seconds = timeout_seconds
        #: the Alertmanager that answered last ("" before any did): asked first next time
        self.answered = ""

    def list_alerts(self) -> Answer[list[Alert]]:
        """Every alert the cluster holds: active, silenced and inhibited."""
        query = {"active": "true", "silenced": "true", "inhibited": "true"}
        return self._ask(
            "list the alerts",
            lambda url: parse_alerts(self._call(url, "GET", "/alerts", query=query)),
        )

    def list_silences(self) -> Answer[list[Silence]]:
        """Every silence the cluster holds, expired ones included (until it forgets them)."""
        return self._ask(
            "list the silences", lambda url: parse_silences(self._call(url, "GET", "/silences"))
        )

    def create_silence(self, request: SilenceRequest) -> Answer[str]:
        """Create the silence ``request``; the answer's value is its id."""

        def create(url: str) -> str:
            body = self._call(url, "POST", "/silences", body=request.to_json())
            silence_id = body.get("silenceID") if isinstance(body, dict) else None
            if not isinstance(silence_id, str) or not silence_id:
                raise MonitoringError(f"Alertmanager {url} created a silence but gave no id")
            return silence_id

        return self._ask("create a silence", create)

    def end_silence_at(self, silence: Silence, ends_at: datetime) -> Answer[str]:
        """Make ``silence`` end at ``ends_at`` (in the future), keeping what it matches and
        says; the answer's value is its id, which the Alertmanager may have changed (it
        expires the old silence and creates another when it cannot edit one in place)."""
        starts_at = silence.starts_at if silence.starts_at is not None else ends_at
        return self.create_silence(
            SilenceRequest(
                silence.matchers,
                min(starts_at, ends_at),
                ends_at,
                silence.created_by,
                silence.comment,
                id=silence.id,
            )
        )

    def expire_silence(self, silence_id: str) -> Answer[bool]:
        """Expire the silence ``silence_id``; the value is False when the cluster does not
        know it (HTTP 404: gone already), True when it was expired now."""

        def expire(url: str) -> bool:
            try:
                self._call(url, "DELETE", f"/silence/{urllib.parse.quote(silence_id, safe='')}")
            except AlertmanagerRefused as error:
                if error.code == 404:
                    return False
                raise
            return True

        return self._ask(f"expire silence {silence_id}", expire)

    def _ask(self, what: str, call: Callable[[str], Result]) -> Answer[Result]:
        """``call`` on the Alertmanager that answered last, else each in turn; raise
        MonitoringError naming every one tried when none could be reached."""
        ordered = sorted(self.urls, key=lambda url: url != self.answered)
        failures = []
        for url in ordered:
            try:
                value = call(url)
            except _Unreachable as error:
                failures.append(f"{url} ({error.reason})")
                continue
            self.answered = url
            return Answer(url, value)
        tried = ", ".join(failures) if failures else "the inventory names no monitoring host"
        raise MonitoringError(
            f"no Alertmanager answered to {what}: {tried}",
            "check that the monitoring hosts are up and that Alertmanager runs there "
            "(systemctl status prometheus-alertmanager)",
        )

    def _call(
        self,
        url: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """One request; _Unreachable when the host cannot be reached or answers no JSON,
        AlertmanagerRefused when it answers with an HTTP error."""
        target = f"{url}{API_PREFIX}{path}"
        if query:
            target += f"?{urllib.parse.urlencode(query)}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        # the URLs come from the inventory's addresses (http only)
        request = urllib.request.Request(target, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                text = response.read()
        except urllib.error.HTTPError as error:
            error.close()
            raise AlertmanagerRefused(url, f"{method} {API_PREFIX}{path}", error.code) from None
        except urllib.error.URLError as error:
            raise _Unreachable(str(getattr(error, "reason", error))) from None
        except (OSError, ValueError) as error:  # timeouts, resets, a malformed answer line
            raise _Unreachable(str(error) or type(error).__name__) from None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise _Unreachable("the answer is not JSON (not an Alertmanager?)") from None
