"""The canary: ``measure_data_loss`` with literal values, the writer against real local servers.

Each server is a ThreadingHTTPServer on 127.0.0.1 speaking the canary's protocol (POST
``/svc/records`` → 201, GET ``/svc/records/last``, ``/svc/records?since=N``, ``/svc/health``)
and keeping the records it acknowledged, as the services' canary endpoint does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from egov.drills.canary import (
    CanaryWriter,
    Endpoint,
    check_health,
    get_last_record,
    get_records,
    measure_data_loss,
    write_record,
)
from egov.drills.verdict import DataLoss, LostRecord

SERVICE = "svc"
INTERVAL_SECONDS = 0.01
WAIT_SECONDS = 5.0


# measure_data_loss: acknowledgements are seq → when; records 1..6 acknowledged at 10..15 s.
ACKNOWLEDGED = {seq: 9.0 + seq for seq in range(1, 7)}


def lost(*seqs: int) -> tuple[LostRecord, ...]:
    return tuple(LostRecord(seq, ACKNOWLEDGED[seq]) for seq in seqs)


def test_nothing_lost_is_an_rpo_of_zero() -> None:
    loss = measure_data_loss(ACKNOWLEDGED, 100.0, frozenset(range(1, 7)))
    assert loss == DataLoss(100.0, 6, 15.0, 15.0, ())
    assert loss.seconds == 0.0


def test_a_recovered_record_past_the_last_acknowledged_loses_nothing() -> None:
    # the last write reached the database but its acknowledgement did not come back
    loss = measure_data_loss(ACKNOWLEDGED, 100.0, frozenset(range(1, 8)))
    assert loss.seconds == 0.0 and loss.lost == ()


def test_the_last_three_acknowledged_lost_span_from_the_last_recovered_ack() -> None:
    loss = measure_data_loss(ACKNOWLEDGED, 100.0, frozenset({1, 2, 3}))
    assert loss == DataLoss(100.0, 6, 15.0, 12.0, lost(4, 5, 6))
    assert loss.seconds == 3.0


def test_nothing_recovered_has_no_rpo_in_seconds_and_loses_every_record() -> None:
    # before, this measured from the first acknowledgement: a total loss scored 5 s
    loss = measure_data_loss(ACKNOWLEDGED, 100.0, frozenset())
    assert loss == DataLoss(100.0, 6, 15.0, None, lost(1, 2, 3, 4, 5, 6))
    assert loss.seconds is None


def test_a_gap_in_the_middle_is_lost_though_the_newest_came_back() -> None:
    loss = measure_data_loss(ACKNOWLEDGED, 100.0, frozenset({1, 2, 5, 6}))
    assert loss.seconds == 0.0
    assert loss.lost == lost(3, 4)


def test_the_fault_travels_with_the_loss() -> None:
    loss = measure_data_loss(ACKNOWLEDGED, 100.0, frozenset({1, 2, 3}), fault_at=20.0)
    assert loss.fault_at == 20.0 and loss.cutoff == 100.0


def test_acknowledgements_after_the_cutoff_are_ignored() -> None:
    # the cutoff at 13 s keeps records 1..4; 4 is lost, acknowledged 1 s after record 3
    loss = measure_data_loss(ACKNOWLEDGED, 13.0, frozenset({1, 2, 3}))
    assert loss == DataLoss(13.0, 4, 13.0, 12.0, lost(4))


def test_no_acknowledgement_before_the_cutoff_counts_nothing() -> None:
    assert measure_data_loss({}, 100.0, frozenset({5})) == DataLoss(100.0, 0, None, None)
    assert measure_data_loss(ACKNOWLEDGED, 5.0, frozenset()) == DataLoss(5.0, 0, None, None)


@dataclass
class CanaryService:
    """One service's canary endpoint at one site, served on loopback."""

    site: str
    server: ThreadingHTTPServer
    records: list[int] = field(default_factory=list)
    stopped: bool = False

    @property
    def endpoint(self) -> Endpoint:
        host, port = self.server.server_address[:2]
        return Endpoint(SERVICE, self.site, f"http://{host!s}:{port}")

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


def make_handler(service: CanaryService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != f"/{SERVICE}/records":
                self.reply(404, {})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            service.records.append(int(body["seq"]))
            self.reply(201, {"seq": body["seq"]})

        def do_GET(self) -> None:
            if self.path == f"/{SERVICE}/health":
                self.reply(200, {"status": "ok"})
            elif self.path == f"/{SERVICE}/records/last":
                self.reply(200, {"seq": max(service.records, default=None)})
            elif self.path.startswith(f"/{SERVICE}/records?since="):
                since = int(self.path.rpartition("=")[2])
                self.reply(200, {"seqs": sorted(seq for seq in service.records if seq >= since)})
            else:
                self.reply(404, {})

        def reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[str], CanaryService]]:
    started: list[CanaryService] = []

    def start(site: str) -> CanaryService:
        server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        service = CanaryService(site, server)
        server.RequestHandlerClass = make_handler(service)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def writers() -> Iterator[list[CanaryWriter]]:
    made: list[CanaryWriter] = []
    yield made
    for writer in made:
        writer.stop()


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the canary did not get there in time"
        time.sleep(INTERVAL_SECONDS)


def test_check_health_passes_on_200_only(serve: Callable[[str], CanaryService]) -> None:
    primary = serve("primary")
    assert check_health(primary.endpoint)
    assert not check_health(Endpoint("other", "primary", primary.endpoint.base_url))
    primary.stop()
    assert not check_health(primary.endpoint, timeout=0.5)


def test_write_record_and_get_last_record(serve: Callable[[str], CanaryService]) -> None:
    primary = serve("primary")
    assert get_last_record(primary.endpoint) is None
    assert write_record(primary.endpoint, 41)
    assert write_record(primary.endpoint, 42)
    assert primary.records == [41, 42]
    assert get_last_record(primary.endpoint) == 42
    assert get_records(primary.endpoint, 42) == frozenset({42})
    assert get_records(primary.endpoint, 0) == frozenset({41, 42})
    primary.stop()
    assert not write_record(primary.endpoint, 43, timeout=0.5)
    assert get_last_record(primary.endpoint, timeout=0.5) is None
    assert get_records(primary.endpoint, 0, timeout=0.5) is None


def test_the_writer_counts_every_acknowledged_record(
    serve: Callable[[str], CanaryService], writers: list[CanaryWriter]
) -> None:
    primary = serve("primary")
    writer = CanaryWriter({SERVICE: primary.endpoint}, interval=INTERVAL_SECONDS)
    writers.append(writer)
    writer.start()
    wait_until(lambda: len(writer.get_acknowledged(SERVICE)) >= 5)
    writer.stop()
    acknowledged = writer.get_acknowledged(SERVICE)
    assert sorted(acknowledged) == primary.records  # in order, each once
    assert writer.failed_writes[SERVICE] == 0


def test_switch_sends_the_next_records_to_the_new_site(
    serve: Callable[[str], CanaryService], writers: list[CanaryWriter]
) -> None:
    primary, site2 = serve("primary"), serve("site2")
    writer = CanaryWriter({SERVICE: primary.endpoint}, interval=INTERVAL_SECONDS)
    writers.append(writer)
    writer.start()
    wait_until(lambda: len(primary.records) >= 3)
    writer.switch(SERVICE, site2.endpoint)
    wait_until(lambda: len(site2.records) >= 3)
    writer.stop()
    assert max(primary.records) < min(site2.records)
    assert sorted(writer.get_acknowledged(SERVICE)) == primary.records + site2.records
    assert writer.endpoints[SERVICE].site == "site2"


def test_writes_to_a_stopped_server_are_counted_as_failed(
    serve: Callable[[str], CanaryService], writers: list[CanaryWriter]
) -> None:
    primary = serve("primary")
    writer = CanaryWriter({SERVICE: primary.endpoint}, interval=INTERVAL_SECONDS)
    writers.append(writer)
    writer.start()
    wait_until(lambda: len(writer.get_acknowledged(SERVICE)) >= 2)
    primary.stop()
    wait_until(lambda: writer.failed_writes[SERVICE] >= 3)
    writer.stop()
    assert sorted(writer.get_acknowledged(SERVICE)) == primary.records
    failures = writer.get_failures(SERVICE)
    assert len(failures) == writer.failed_writes[SERVICE]
    assert {write.site for write in failures} == {"primary"}
    assert all(
        write.sent_at >= max(writer.get_acknowledged(SERVICE).values()) - 1 for write in failures
    )
    assert all(write.refused_at >= write.sent_at for write in failures)


def test_records_sent_after_an_operators_error_are_found_by_their_numbers() -> None:
    # numbers are sending times in ms: 12_000 was sent at 12 s, after an error ended at 11.5 s
    loss = measure_data_loss(
        ACKNOWLEDGED, 11.0, frozenset({1, 2, 12_000, 13_000}), 11.0, error_ended_at=11.5
    )
    assert loss.written_after == (12_000, 13_000) and loss.error_ended_at == 11.5
    assert measure_data_loss(ACKNOWLEDGED, 11.0, frozenset({1, 2}), 11.0, 11.5).written_after == ()
    # no error in this drill: nothing is judged written after it
    assert measure_data_loss(ACKNOWLEDGED, 11.0, frozenset({1, 12_000})).written_after == ()
