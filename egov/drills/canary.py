"""The drill's canary client: numbered writes through each service's path, and its verdicts.

While a drill measures, one thread per service POSTs a record every ``interval`` to the site
serving it and remembers when each was acknowledged (HTTP 201), and when each refused write
was sent. After the recovery site answers, the records found there against the acknowledged
ones give the data lost, record by record: ``measure_data_loss`` is pure, and
``verdict.judge`` decides.

Sequence numbers are milliseconds since the epoch: unique and increasing across sites and
drills, so no state is needed to continue where a previous drill stopped.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from egov.drills.verdict import DataLoss, LostRecord

#: Long enough for an application whose first database host is dead: libpq waits out its
#: connect timeout (2 s) on that one before it reaches the next.
REQUEST_TIMEOUT_SECONDS = 6.0
WRITE_INTERVAL_SECONDS = 0.25


@dataclass(frozen=True)
class Endpoint:
    """Where one service answers at one site."""

    service: str
    site: str
    base_url: str  # http://10.213.1.10:80

    @property
    def health_url(self) -> str:
        return f"{self.base_url}/{self.service}/health"

    @property
    def records_url(self) -> str:
        return f"{self.base_url}/{self.service}/records"


def check_health(endpoint: Endpoint, timeout: float = REQUEST_TIMEOUT_SECONDS) -> bool:
    """Whether the service's health check passes at that endpoint (HTTP 200)."""
    try:
        with urllib.request.urlopen(endpoint.health_url, timeout=timeout) as response:  # noqa: S310 (http to the estate)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def get_last_record(endpoint: Endpoint, timeout: float = REQUEST_TIMEOUT_SECONDS) -> int | None:
    """The highest record the service holds at that endpoint (None: none, or no answer)."""
    try:
        with urllib.request.urlopen(f"{endpoint.records_url}/last", timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    seq = body.get("seq") if isinstance(body, dict) else None
    return int(seq) if isinstance(seq, int) else None


def write_record(endpoint: Endpoint, seq: int, timeout: float = REQUEST_TIMEOUT_SECONDS) -> bool:
    """POST record ``seq``; True once acknowledged (committed)."""
    request = urllib.request.Request(  # noqa: S310
        endpoint.records_url,
        data=json.dumps({"seq": seq}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return bool(response.status in (200, 201))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def get_records(
    endpoint: Endpoint, since: int, timeout: float = REQUEST_TIMEOUT_SECONDS
) -> frozenset[int] | None:
    """The records numbered ``since`` or higher the service holds at that endpoint (None: no
    answer). Every one is needed, not the highest alone: a gap is a loss too."""
    url = f"{endpoint.records_url}?since={since}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    seqs = body.get("seqs") if isinstance(body, dict) else None
    if not isinstance(seqs, list) or not all(isinstance(seq, int) for seq in seqs):
        return None
    return frozenset(seqs)


def measure_data_loss(
    acknowledged: dict[int, float],
    cutoff: float,
    recovered: frozenset[int],
    fault_at: float | None = None,
    error_ended_at: float | None = None,
) -> DataLoss:
    """What the recovery site lacks of the records acknowledged up to ``cutoff`` (pure), the
    fault having struck at ``fault_at`` (None: at the cutoff); after an operator's error
    that had surely been committed by ``error_ended_at``, also what it holds of the records
    sent after that (their numbers are their sending times in milliseconds).

    ``recovered`` holds the records found there (at least those from this drill's first
    acknowledgement on). A record there newer than every counted acknowledgement (taken after
    the cutoff, or committed but never acknowledged) means nothing counted is newer than it.
    """
    acked = sorted((seq, at) for seq, at in acknowledged.items() if at <= cutoff)
    after = (
        ()
        if error_ended_at is None
        else tuple(sorted(seq for seq in recovered if seq > error_ended_at * 1000))
    )
    if not acked:
        return DataLoss(
            cutoff, 0, None, None, fault_at=fault_at, error_ended_at=error_ended_at,
            written_after=after,
        )  # fmt: skip
    newest_seq, newest_at = acked[-1]
    kept = [at for seq, at in acked if seq in recovered]
    if any(seq > newest_seq for seq in recovered):
        kept.append(newest_at)
    return DataLoss(
        cutoff=cutoff,
        acknowledged=len(acked),
        newest_acknowledged_at=newest_at,
        newest_recovered_at=max(kept) if kept else None,
        lost=tuple(LostRecord(seq, at) for seq, at in acked if seq not in recovered),
        fault_at=fault_at,
        error_ended_at=error_ended_at,
        written_after=after,
    )


@dataclass(frozen=True)
class RefusedWrite:
    """A canary write the service did not acknowledge: when it was sent, to which site, and
    when the refusal (an error status, a timeout, a closed connection) came back."""

    sent_at: float
    site: str
    refused_at: float


@dataclass
class CanaryWriter:
    """One writer thread per service, writing to whichever endpoint is current."""

    endpoints: dict[str, Endpoint]
    interval: float = WRITE_INTERVAL_SECONDS
    clock: Callable[[], float] = time.time
    acknowledged: dict[str, dict[int, float]] = field(default_factory=dict)
    failed_writes: dict[str, int] = field(default_factory=dict)
    #: service → its refused writes, in the order sent
    failures: dict[str, list[RefusedWrite]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start writing for every service."""
        for service in self.endpoints:
            self.acknowledged.setdefault(service, {})
            self.failed_writes.setdefault(service, 0)
            self.failures.setdefault(service, [])
            thread = threading.Thread(
                target=self._write_loop, args=(service,), name=f"canary-{service}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop writing and wait for the threads (each ends within one request timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 2)

    def switch(self, service: str, endpoint: Endpoint) -> None:
        """Write ``service``'s next records to ``endpoint`` (the site now serving it)."""
        with self._lock:
            self.endpoints[service] = endpoint

    def get_failures(self, service: str) -> list[RefusedWrite]:
        """A copy of the refused writes so far."""
        with self._lock:
            return list(self.failures.get(service, []))

    def get_acknowledged(self, service: str) -> dict[int, float]:
        """A copy of the acknowledgements so far: seq → when."""
        with self._lock:
            return dict(self.acknowledged.get(service, {}))

    def _write_loop(self, service: str) -> None:
        last_seq = 0
        while not self._stop.is_set():
            with self._lock:
                endpoint = self.endpoints[service]
            sent_at = self.clock()
            seq = max(int(sent_at * 1000), last_seq + 1)
            last_seq = seq
            if write_record(endpoint, seq):
                with self._lock:
                    self.acknowledged[service][seq] = self.clock()
            else:
                refused = RefusedWrite(sent_at, endpoint.site, self.clock())
                with self._lock:
                    self.failed_writes[service] += 1
                    self.failures[service].append(refused)
            self._stop.wait(self.interval)
