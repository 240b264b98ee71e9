"""What every drill action and probe is handed: the estate, the hosts, the journal, the canary.

Actions and probes are plain functions ``(context, arguments) -> value``; this is the one
object they share, so a test can hand them a context built on the lab.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from egov.drills.canary import CanaryWriter, Endpoint, get_records, measure_data_loss
from egov.drills.journal import Journal
from egov.drills.remote import Remote
from egov.drills.scenario import Mode
from egov.drills.verdict import Targets
from egov.errors import DrillError
from egov.inventory.derive import get_chain_replicas, get_site_database
from egov.inventory.model import Estate, HostRef
from egov.lab.spec import LabSpec


def get_database_roots(estate: Estate, services: list[str]) -> list[str]:
    """The primary-site database hosts of ``services``, each once, in service order."""
    roots = [
        database.host for name in services for database in estate.services[name].data.databases
    ]
    return list(dict.fromkeys(roots))


@dataclass
class DrillContext:
    """The state of one drill run that actions and probes read and add to."""

    estate: Estate
    remote: Remote
    journal: Journal
    mode: Mode
    services: list[str]
    targets: dict[str, Targets]
    lab: LabSpec | None = None
    canary: CanaryWriter | None = None
    recovery_site: str | None = None
    measuring: bool = False
    fault_at: float | None = None
    #: an operator's error (``destroy-drill-data``): the primary's clock just before it, the
    #: point a recovery goes back to, and this node's clock once it had surely committed
    error_target: datetime | None = None
    error_ended_at: float | None = None
    recovered: dict[str, tuple[str, float]] = field(default_factory=dict)  # service → site, when
    progress: Callable[[str], None] = lambda _message: None
    confirm: Callable[[str], bool] = lambda _instruction: False
    clock: Callable[[], float] = time.time

    def require_lab(self, what: str) -> LabSpec:
        """The lab spec; DrillError outside the lab (there a real fault needs a person)."""
        if self.lab is None:
            raise DrillError(
                f"{what} exists only in the lab",
                "in production, use a `manual:` step asking the operator to do it",
            )
        return self.lab

    def get_database_host(
        self, site: str, database_host: str | None = None, host: str | None = None
    ) -> HostRef:
        """The member at ``site`` (named ``host``, else the first in chain order) of the
        replication chain holding the services' databases (of ``database_host``'s chain)."""
        names = [database_host] if database_host else self.get_database_roots()
        for name in names:
            if host is None:
                found = get_site_database(self.estate, name, site)
                if found is not None:
                    return found
                continue
            root = self.estate.find_host(self.estate.primary_site, name)
            members = [root, *get_chain_replicas(self.estate, root)] if root else []
            for member in members:
                if member.site == site and member.name == host:
                    return member
            raise DrillError(f"{site}/{host} is not a member of {name}'s replication chain")
        raise DrillError(f"site {site} has no database host of the services' replication chain")

    def get_copy_host(self, site: str, host: str | None) -> HostRef:
        """Where a test's isolated copy runs at ``site``: ``host`` (the archive host a
        point-in-time copy is recovered on), else the site's database host (a replica's)."""
        if host is None:
            return self.get_database_host(site)
        found = self.estate.find_host(site, host)
        if found is None:
            raise DrillError(f"no host {host} at site {site}")
        return found

    def get_database_roots(self) -> list[str]:
        """The primary-site database hosts of the drilled services."""
        return get_database_roots(self.estate, self.services)

    def get_endpoint(self, service: str, site: str) -> Endpoint:
        """Where ``service`` answers at ``site`` (its entrypoint, the health check's port)."""
        from egov.deploys.topology import get_service_entrypoint

        ref = get_service_entrypoint(self.estate, service, site)
        if ref is None:
            raise DrillError(f"service {service} is not placed at site {site}")
        port = self.estate.services[service].health_check.port
        return Endpoint(service, site, f"http://{ref.host.address}:{port}")

    def mark_fault(self) -> None:
        """Now is the moment the fault struck: RTO is measured from here."""
        if self.fault_at is None:
            self.fault_at = self.clock()
            self.journal.append("fault", note="RTO is measured from this moment")

    def record_recovery(self, service: str, site: str, at: float) -> None:
        """The service answers at ``site`` since ``at``: journal its RTO and RPO, once, and
        send the canary's next records there."""
        if not self.measuring or self.fault_at is None or service in self.recovered:
            return
        self.record_rto(service, site, at, f"answers at {site}")
        if self.canary is not None:
            endpoint = self.get_endpoint(service, site)
            self.record_rpo(
                service, get_records(endpoint, self.get_first_record(service)), f"at {site}"
            )
            self.canary.switch(service, endpoint)

    def get_first_record(self, service: str) -> int:
        """The first record this drill's canary wrote for ``service`` (0: none yet): the
        recovery site is asked for every record from there on."""
        acknowledged = self.canary.get_acknowledged(service) if self.canary else {}
        return min(acknowledged, default=0)

    def record_rpo(self, service: str, recovered: frozenset[int] | None, where: str) -> None:
        """Journal what ``service``'s recovery site (``where``) lacks of the acknowledged
        records; ``recovered`` holds the records found there (None: they could not be read)."""
        if not self.measuring or self.fault_at is None or self.canary is None:
            return
        if recovered is None:
            self.journal.append(
                "failure", text=f"{service}: the canary records could not be read {where}"
            )
            return
        # A test copies production at the fault while production goes on taking writes:
        # only what was acknowledged before the copy counts. A real outage takes no writes
        # after the fault, so every acknowledgement counts (none is missed at the edge).
        cutoff = self.fault_at if self.mode is Mode.TEST else self.clock()
        acknowledged = self.canary.get_acknowledged(service)
        loss = measure_data_loss(
            acknowledged, cutoff, recovered, self.fault_at, self.error_ended_at
        )
        self.journal.append(
            "measure",
            service=service,
            metric="rpo",
            seconds=loss.seconds,
            target_seconds=self.targets[service].rpo_seconds,
            cutoff=loss.cutoff,
            fault_at=loss.fault_at,
            acknowledged=loss.acknowledged,
            newest_acknowledged_at=loss.newest_acknowledged_at,
            newest_recovered_at=loss.newest_recovered_at,
            lost=[[record.seq, record.acknowledged_at] for record in loss.lost],
            lost_records=len(loss.lost),
            error_ended_at=loss.error_ended_at,
            written_after=list(loss.written_after),
            detail=(
                f"{where}: {loss.acknowledged} acknowledged records, "
                f"{loss.acknowledged - len(loss.lost)} recovered, "
                f"{len(loss.lost)} acknowledged records lost"
            ),
        )

    def record_rto(self, service: str, site: str, at: float, where: str) -> None:
        """Journal the RTO of ``service``, recovered at ``site``: from the fault to ``at``."""
        if not self.measuring or self.fault_at is None or service in self.recovered:
            return
        self.recovered[service] = (site, at)
        self.journal.append(
            "measure",
            service=service,
            metric="rto",
            seconds=round(at - self.fault_at, 3),
            target_seconds=self.targets[service].rto_seconds,
            detail=where,
        )

    def count_refused_writes(self, service: str) -> int:
        """The canary writes refused while ``service`` should have taken them.

        A test never touches production: every refusal counts. Otherwise those refused
        before the fault struck, and those sent to the recovery site once it answered; the
        ones in between are the outage, which RTO measures. A write sent just before the
        fault and cut short by it is the outage's too: the moment its refusal came back
        decides, not the moment it left (a lab run once counted one refused write against a
        failover that otherwise passed: a write in flight when the database host was
        powered off is the likely one).
        """
        if self.canary is None:
            return 0
        failures = self.canary.get_failures(service)
        if self.mode is Mode.TEST:
            return len(failures)
        fault_at = self.fault_at if self.fault_at is not None else float("inf")
        recovered = self.recovered.get(service)
        return sum(
            1
            for write in failures
            if write.refused_at < fault_at
            or (
                recovered is not None
                and write.site == recovered[0]
                and write.sent_at >= recovered[1]
            )
        )
