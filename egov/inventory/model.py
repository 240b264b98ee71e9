"""The inventory model: the single source of truth for the whole estate.

Sites hold hosts; services are placed on hosts per site; the backup policy and the drill
schedule refer to both. Every option is declared once here, with a description: the JSON
Schema, the validation messages and the docs derive from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any

from pydantic import Field, field_validator

from egov.inventory.alerting import Alerting
from egov.inventory.backup import BackupPolicy
from egov.inventory.fields import (
    Fraction,
    Name,
    Port,
    PositiveDuration,
    Rate,
    SecretReference,
    Size,
    StrictModel,
    WholeNumber,
)

SCHEMA_VERSION = 1


class Environment(StrEnum):
    """What the inventory describes: the real estate, or its copy in the lab."""

    PRODUCTION = "production"
    LAB = "lab"


class SiteRole(StrEnum):
    """What a site is for."""

    PRIMARY = "primary"
    OFFSITE = "offsite"
    DR = "dr"


class SiteStatus(StrEnum):
    """Whether a site exists yet."""

    ACTIVE = "active"
    PLANNED = "planned"


class SshSettings(StrictModel):
    """How egov reaches hosts over SSH; host-level values override the estate's."""

    user: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_-]*$", examples=["root"])
    port: Port | None = Field(default=None, examples=[22])
    key: SecretReference | None = Field(
        default=None, description="The private key egov connects with (a `file:` reference)."
    )
    known_hosts: Annotated[str, Field(pattern=r"^/")] | None = Field(
        default=None,
        description="known_hosts file pinning every host key; checking is always strict.",
        examples=["/etc/egov/known_hosts"],
    )


class Admin(StrictModel):
    """A person who may log in to every host."""

    name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]
    ssh_keys: list[Annotated[str, Field(pattern=r"^(ssh-(ed25519|rsa)|ecdsa-sha2-\S+) \S+")]] = (
        Field(min_length=1, description="Public keys, one line each as in authorized_keys.")
    )


class Host(StrictModel):
    """A server at a site."""

    address: IPv4Address = Field(description="The address egov connects to.")
    roles: list[Name] = Field(
        default_factory=list,
        description="Roles deployed on the host (every host also gets `base`).",
        examples=[["db"], ["lb", "app"]],
    )
    upstream: Annotated[str, Field(pattern=r"^([a-z][a-z0-9-]*/)?[a-z][a-z0-9-]*$")] | None = Field(
        default=None,
        description="For `db-replica`: the host it streams from, `host` or `site/host`.",
        examples=["db-01", "primary/db-01"],
    )
    ssh: SshSettings = Field(default_factory=SshSettings)
    data: dict[str, Any] = Field(
        default_factory=dict, description="Free host data passed to the deploys."
    )


class ObjectLockMode(StrEnum):
    """The S3 Object Lock mode of new object versions in the site's buckets."""

    COMPLIANCE = "compliance"
    GOVERNANCE = "governance"
    NONE = "none"


class ObjectStore(StrictModel):
    """An S3-compatible endpoint a site offers instead of (or besides) hosts."""

    endpoint: str = Field(examples=["https://198.51.100.10"])
    region: str = Field(default="us-east-1")
    object_lock: ObjectLockMode = Field(
        default=ObjectLockMode.COMPLIANCE,
        description=(
            "Object lock of the buckets egov creates. `compliance`: no key, not even the "
            "bucket owner's, can delete a locked version before its lock ends. `governance`: "
            "a key allowed `s3:BypassGovernanceRetention` can; egov then writes the bucket "
            "policy the province must apply (`egov backup bucket-policy`), and the protection "
            "depends on it. `none`: the endpoint offers no object lock (versioning only). "
            "`true`/`false` (older inventories) mean `compliance`/`none`."
        ),
        examples=["compliance", "governance"],
    )

    @field_validator("object_lock", mode="before")
    @classmethod
    def _legacy_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return ObjectLockMode.COMPLIANCE if value else ObjectLockMode.NONE
        return value


class Site(StrictModel):
    """One place: the provincial data centre, the offsite store, the second data centre."""

    role: SiteRole
    title: str = Field(min_length=1, examples=["Trung tâm Dữ liệu tỉnh"])
    status: SiteStatus = Field(default=SiteStatus.ACTIVE)
    network: IPv4Network = Field(
        description="The site's address range; every host address must lie in it.",
        examples=["10.213.1.0/24"],
    )
    storage_capacity: Size | None = Field(default=None, examples=["142.8 TB"])
    wan_bandwidth: Rate | None = Field(
        default=None,
        description=(
            "The site's link to the other sites, each way: copies from or to the site share "
            "it. `egov backup plan` predicts the copies with it."
        ),
        examples=["1 Gbit/s", "200 Mbit/s"],
    )
    object_store: ObjectStore | None = None
    hosts: dict[Name, Host] = Field(default_factory=dict)


class HealthProtocol(StrEnum):
    """How a service's health is checked."""

    HTTP = "http"
    HTTPS = "https"
    TCP = "tcp"


class HealthCheck(StrictModel):
    """What 'the service answers' means, checked at each site's entrypoint."""

    protocol: HealthProtocol = HealthProtocol.HTTP
    port: Port = Field(default=80)
    path: Annotated[str, Field(pattern=r"^/")] = "/health"
    expect_status: WholeNumber = Field(default=200, ge=100, le=599)
    timeout: PositiveDuration = Field(default=timedelta(seconds=5))


class Placement(StrictModel):
    """Where a service runs at one site."""

    hosts: list[Name] = Field(min_length=1, description="Hosts running the service there.")
    entrypoint: Name | None = Field(
        default=None, description="Host users reach it through (default: the first host)."
    )


class DatabaseRef(StrictModel):
    """A PostgreSQL database a service owns."""

    name: Name
    host: Name = Field(description="The primary-site host holding it.", examples=["db-01"])
    rpo: PositiveDuration | None = Field(default=None, description="Overrides the service's RPO.")


class FilesRef(StrictModel):
    """A file tree a service owns."""

    path: Annotated[str, Field(pattern=r"^/")]
    host: Name = Field(examples=["store-01"])
    rpo: PositiveDuration | None = Field(
        default=None,
        description="Overrides the service's RPO: files often have a looser target.",
        examples=["1h"],
    )


class ServiceData(StrictModel):
    """The data a service owns and must not lose."""

    databases: list[DatabaseRef] = Field(default_factory=list)
    files: list[FilesRef] = Field(default_factory=list)


class Service(StrictModel):
    """An e-government service and its recovery targets."""

    title: str = Field(min_length=1)
    sites: dict[Name, Placement] = Field(
        min_length=1, description="Placement per site; the primary site's first."
    )
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    rto: PositiveDuration = Field(description="Recovery time objective.", examples=["4h"])
    rpo: PositiveDuration = Field(description="Recovery point objective.", examples=["15m"])
    availability_slo: Fraction = Field(
        default=0.995, description="Availability objective over 30 days."
    )
    data: ServiceData = Field(default_factory=ServiceData)


class PostgresSettings(StrictModel):
    """Credentials of the PostgreSQL clusters (the `db` and `db-replica` hosts)."""

    version: WholeNumber = Field(default=15, ge=13, le=17, description="PostgreSQL major version.")
    replication_password: SecretReference = Field(
        description="Password of the `replicator` role the replicas stream with."
    )
    app_password: SecretReference = Field(
        description="Password of each service's database role (named after the service)."
    )


class DrillSchedule(StrictModel):
    """How often failover is proven, and with which scenarios."""

    interval: PositiveDuration = Field(default=timedelta(days=91), examples=["91d"])
    scenarios: list[Name] = Field(default_factory=list, examples=[["quarterly-test-failover"]])


class Estate(StrictModel):
    """A whole e-government estate: sites, hosts, services, backups, drills, alerting."""

    schema_version: WholeNumber = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    name: Name = Field(examples=["camau"])
    title: str = Field(min_length=1)
    environment: Environment = Environment.PRODUCTION
    timezone: str = Field(default="Asia/Ho_Chi_Minh", pattern=r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$")
    ssh: SshSettings = Field(default_factory=SshSettings)
    control_nodes: list[IPv4Network] = Field(
        default_factory=list,
        description=(
            "Addresses egov runs from besides the monitoring hosts (which always count): "
            "the firewall lets them in over SSH and to the metrics ports."
        ),
        examples=[["10.213.1.1/32"]],
    )
    admins: list[Admin] = Field(default_factory=list)
    sites: dict[Name, Site] = Field(min_length=1)
    services: dict[Name, Service] = Field(default_factory=dict)
    postgres: PostgresSettings | None = None
    backup: BackupPolicy = Field(default_factory=BackupPolicy)
    drills: DrillSchedule = Field(default_factory=DrillSchedule)
    alerting: Alerting = Field(
        default_factory=Alerting,
        description="Who is notified of alerts; without receivers, nobody is.",
    )

    @property
    def primary_site(self) -> str:
        """Name of the site whose role is primary (``check_primary_site`` ensures exactly one)."""
        return next(name for name, site in self.sites.items() if site.role is SiteRole.PRIMARY)

    def iter_hosts(self) -> Iterator[HostRef]:
        """Every host of every site, in inventory order."""
        for site_name, site in self.sites.items():
            for host_name, host in site.hosts.items():
                yield HostRef(site=site_name, name=host_name, host=host)

    def find_host(self, site: str, name: str) -> HostRef | None:
        """The host ``name`` at ``site``, or None."""
        site_model = self.sites.get(site)
        if site_model is None or name not in site_model.hosts:
            return None
        return HostRef(site=site, name=name, host=site_model.hosts[name])

    def find_upstream(self, ref: HostRef) -> HostRef | None:
        """The host the replica ``ref`` streams from (its ``upstream``: ``host`` at its own
        site, or ``site/host``), or None when it names none or no such host exists."""
        if ref.host.upstream is None:
            return None
        site, _, name = ref.host.upstream.rpartition("/")
        return self.find_host(site or ref.site, name)


@dataclass(frozen=True)
class HostRef:
    """A host together with where it is: host names are unique only within a site."""

    site: str
    name: str
    host: Host

    @property
    def qualified_name(self) -> str:
        """``site-host``: unique across the estate, a valid hostname and machine name."""
        return f"{self.site}-{self.name}"

    @property
    def selector(self) -> str:
        """``site/host``, as datasets and --limit write it."""
        return f"{self.site}/{self.name}"
