"""The backup policy of the estate: schedule, retention, repositories, replication, datasets.

Only declarations live here; the jobs that act on them are in ``egov/backup/``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from egov.inventory.fields import (
    Count,
    Duration,
    Fraction,
    Name,
    Number,
    Port,
    PositiveDuration,
    Rate,
    SecretReference,
    Size,
    StrictModel,
    WholeNumber,
)

TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: More concurrent restic processes than this on one host only contend for its disk.
MAX_SHARDS = 64


class Schedule(StrictModel):
    """When a job runs: every ``interval``, starting at ``at`` for daily-or-longer intervals;
    every N >= 2 days, on days ``first_day``, ``first_day`` + N, … of the month (no weekday:
    weekly jobs with the same ``first_day`` share nights, ``egov backup plan`` says which)."""

    interval: PositiveDuration = Field(
        default=timedelta(days=1),
        description="Time between two runs: a divisor of one day (15m, 1h, 6h) or whole days.",
        examples=["24h", "15m", "7d"],
    )
    at: Annotated[str, Field(pattern=TIME_OF_DAY_PATTERN)] = Field(
        default="01:30",
        description="Local time of day (HH:MM) of the first run of the day.",
        examples=["01:30"],
    )
    randomized_delay: Duration = Field(
        default=timedelta(minutes=30),
        description="Random delay added to each start so hosts do not all start at once.",
        examples=["30m"],
    )
    first_day: int | None = Field(
        default=None,
        description="For an interval of N whole days (N >= 2): the day of the month of the "
        "first run, 1..N; runs fall on first_day, first_day + N, … (default 1).",
        examples=[4],
    )

    @field_validator("interval")
    @classmethod
    def _interval_fits_a_day(cls, value: timedelta) -> timedelta:
        seconds = int(value.total_seconds())
        day = 86400
        if seconds < 60:
            raise ValueError("the interval must be at least 1m")
        if seconds < day and day % seconds != 0:
            raise ValueError("an interval shorter than a day must divide the day: 15m, 1h, 6h, 12h")
        if seconds > day and seconds % day != 0:
            raise ValueError("an interval longer than a day must be whole days: 2d, 7d")
        return value

    @model_validator(mode="after")
    def _first_day_in_the_step(self) -> Schedule:
        if self.first_day is None:
            return self
        days = int(self.interval.total_seconds()) // 86400
        if days < 2:
            raise ValueError("first_day applies only to an interval of whole days of 2d or more")
        if not 1 <= self.first_day <= days:
            raise ValueError(
                f"first_day must be 1..{days} for an interval of {days} days (the days of "
                f"the month it runs on start there, every {days}): set first_day: 1..{days}"
            )
        return self


class Retention(StrictModel):
    """Grandfather-father-son retention, applied by the repository's own host.

    ``within`` protects every snapshot younger than it whatever the other counts say: on
    append-only repositories forged snapshots could otherwise crowd out the real ones.
    """

    within: Duration = Field(
        default=timedelta(days=7), description="Keep every snapshot younger than this."
    )
    daily: Count = Field(default=14, description="Daily snapshots kept.")
    weekly: Count = Field(default=8, description="Weekly snapshots kept.")
    monthly: Count = Field(default=12, description="Monthly snapshots kept.")
    yearly: Count = Field(default=3, description="Yearly snapshots kept.")

    @model_validator(mode="after")
    def _keeps_something(self) -> Retention:
        counts = (self.daily, self.weekly, self.monthly, self.yearly)
        if self.within == timedelta(0) and not any(counts):
            raise ValueError(
                "this retention keeps nothing (within 0s and every count 0): the next prune "
                "would delete every snapshot — keep at least `daily: 7` or `within: 7d`"
            )
        return self


class RepositoryKind(StrEnum):
    """How restic reaches a repository."""

    REST = "rest"
    S3 = "s3"


class Repository(StrictModel):
    """A restic repository at one site."""

    site: Name = Field(description="Site where the repository's storage lives.")
    kind: RepositoryKind = Field(description="`rest` (restic REST server) or `s3`.")
    host: Name | None = Field(
        default=None,
        description="For `rest`: the host of that site serving the repository.",
        examples=["store-01"],
    )
    port: Port = Field(default=8000, description="For `rest`: the server's port.")
    endpoint: str | None = Field(
        default=None,
        description="For `s3`: the endpoint URL of the S3-compatible object store.",
        examples=["https://198.51.100.10"],
    )
    bucket: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="For `s3`: the bucket name.",
    )
    password: SecretReference = Field(description="The restic repository password.")
    access_key: SecretReference | None = Field(
        default=None, description="For `s3`: the access key id of the backup client."
    )
    secret_key: SecretReference | None = Field(
        default=None, description="For `s3`: the secret access key of the backup client."
    )
    rest_password: SecretReference | None = Field(
        default=None,
        description=(
            "For `rest`: the password the clients give the REST server as user `backup` "
            "(HTTP basic auth; not the restic repository password)."
        ),
    )
    prune_access_key: SecretReference | None = Field(
        default=None,
        description=(
            "For `s3`: the access key id of the retention (forget/prune) key, which may "
            "delete; held only by the host that runs the repository's retention, never by "
            "the backup or replication clients. Without it, no retention runs for the bucket."
        ),
    )
    prune_secret_key: SecretReference | None = Field(
        default=None, description="For `s3`: the secret access key of the retention key."
    )


class DatasetKind(StrEnum):
    """What a dataset backs up."""

    FILES = "files"
    POSTGRES = "postgres"


HOST_SELECTOR_PATTERN = r"^(\*|[a-z][a-z0-9-]*/(\*|[a-z][a-z0-9-]*))$"


MAX_FILE_COUNT = 10**12


class DatasetEstimate(StrictModel):
    """What the operators expect a dataset to hold on one host, for ``egov backup plan``.

    Only a fallback: once an agent has backed the dataset up, the plan takes the figures its
    record measured instead, and says which it used.
    """

    size: Size | None = Field(
        default=None, description="Bytes on one host.", examples=["138 TB", "50 MB"]
    )
    files: Annotated[int, Field(strict=True, ge=0, le=MAX_FILE_COUNT)] | None = Field(
        default=None,
        description="Files on one host (a dump counts one per database).",
        examples=[80_000_000],
    )
    daily_change: Fraction | None = Field(
        default=None,
        description=(
            "Share of the size written or rewritten in a day; for a dump, the share of it "
            "new to the repository."
        ),
        examples=[0.003],
    )


class WalArchive(StrictModel):
    """Continuous archiving of a ``postgres`` dataset's clusters: every change, not a nightly dump.

    Barman on each archive host pulls the WAL stream (``pg_receivewal`` through a replication
    slot) and base backups from the primary. The pull is the point: the database host holds no
    credential on any archive host, so an attacker on it cannot delete or rewrite what was
    archived. The slot keeps the primary's WAL while an archive host is unreachable (up to the
    replicas' bound), so the archive catches up with no gap when the link returns.
    """

    hosts: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*/[a-z][a-z0-9-]*$")]] = Field(
        min_length=1,
        description="Archive hosts (`site/host`), each a full copy; one per site is the rule.",
        examples=[["primary/store-01", "site2/store-01"]],
    )
    rpo: PositiveDuration = Field(
        default=timedelta(seconds=60),
        description=(
            "Newest archived WAL at most this old: PostgreSQL's `archive_timeout` closes a WAL "
            "segment at least this often, and the archive's age is alerted past it."
        ),
        examples=["60s"],
    )
    schedule: Schedule | None = Field(
        default=None,
        description="When base backups run; default: the policy's schedule.",
    )
    password: SecretReference = Field(
        description="Password of the `egov_archive` role the archive hosts connect as."
    )

    @field_validator("rpo")
    @classmethod
    def _rpo_is_a_timeout(cls, value: timedelta) -> timedelta:
        if not 10 <= value.total_seconds() <= 86400:
            raise ValueError("the archive's rpo must be between 10s and 24h (archive_timeout)")
        return value


class Dataset(StrictModel):
    """One thing backed up, with its own tags so its history is one restic query."""

    kind: DatasetKind
    hosts: list[Annotated[str, Field(pattern=HOST_SELECTOR_PATTERN)]] = Field(
        min_length=1,
        description="Where the data lives: `site/host`, `site/*` (every host of a site) or `*`.",
        examples=[["primary/store-01"], ["*"]],
    )
    paths: list[Annotated[str, Field(pattern=r"^/")]] = Field(
        default_factory=list, description="For `files`: absolute paths to back up."
    )
    exclude: list[str] = Field(default_factory=list, description="restic --exclude patterns.")
    databases: list[Name] = Field(
        default_factory=list, description="For `postgres`: databases dumped, one stream each."
    )
    sanity_queries: list[str] = Field(
        default_factory=list,
        description="For `postgres`: SQL run on a restored copy; each must return a row.",
        examples=[["SELECT 1 FROM pg_tables LIMIT 1"]],
    )
    schedule: Schedule | None = Field(
        default=None, description="Overrides the policy's schedule for this dataset."
    )
    repository: Name | None = Field(
        default=None,
        description="Repository written to; default: the first of the replication order.",
    )
    tags: list[Name] = Field(default_factory=list, description="Extra restic tags.")
    shards: Annotated[int, Field(strict=True, ge=1, le=MAX_SHARDS)] = Field(
        default=1,
        description=(
            "For `files`: concurrent restic processes a run is split into, each backing up "
            "its share of the top-level entries under `paths` into the same repository (one "
            "snapshot each, tagged `shard:IofN`). `egov backup plan` proposes it when a run "
            "does not fit; at most the host's cores help."
        ),
        examples=[4],
    )
    estimate: DatasetEstimate = Field(
        default_factory=DatasetEstimate,
        description="Declared size, files and change, used by `egov backup plan` until measured.",
    )
    archive: WalArchive | None = Field(
        default=None,
        description="For `postgres`: continuous WAL archiving and base backups (point-in-time).",
    )

    @field_validator("sanity_queries")
    @classmethod
    def _queries_are_single_statements(cls, value: list[str]) -> list[str]:
        for query in value:
            if re.search(r";\s*\S", query):
                raise ValueError("a sanity query must be one SQL statement")
        return value


class BackupPlanning(StrictModel):
    """What ``egov backup plan`` assumes where the agents' records measured nothing yet.

    Every rate is one restic process on one host; the plan replaces it with what the newest
    records measured, and says which figure came from where.
    """

    window: PositiveDuration = Field(
        default=timedelta(hours=6),
        description="How long the night's backups and copies may run after `schedule.at`.",
        examples=["6h"],
    )
    earliest_start: Annotated[str, Field(pattern=TIME_OF_DAY_PATTERN)] = Field(
        default="22:00",
        description="Local time before which the plan proposes no backup start (users work).",
        examples=["22:00"],
    )
    backup_throughput: Rate = Field(
        default=240e6,
        description="Changed bytes one restic process reads and stores per second.",
        examples=["240 MB/s"],
    )
    files_per_second: Annotated[Number, Field(ge=1, le=1e9)] = Field(
        default=3000.0,
        description="Files one restic process walks per second (unchanged files: metadata only).",
        examples=[3000],
    )
    dump_throughput: Rate = Field(
        default=150e6,
        description="Bytes of pg_dump output stored per second.",
        examples=["150 MB/s"],
    )
    restore_throughput: Rate = Field(
        default=145e6,
        description="Bytes restored per second (bench/backup_overhead.py measured ~145 MB/s).",
        examples=["145 MB/s"],
    )
    added_ratio: Annotated[Number, Field(gt=0, le=1)] = Field(
        default=0.6, description="Bytes stored (and copied) per changed byte, after dedup."
    )
    link_efficiency: Annotated[Number, Field(ge=0.01, le=1)] = Field(
        default=0.8, description="Share of a link's bandwidth a copy gets (TCP, TLS, S3)."
    )
    cores: Annotated[int, Field(strict=True, ge=1, le=1024)] = Field(
        default=8,
        description="CPU cores of a backup host: the plan proposes at most this many shards.",
    )


class BackupPolicy(StrictModel):
    """Everything the nightly backups need to know."""

    schedule: Schedule = Field(default_factory=Schedule)
    retention: Retention = Field(default_factory=Retention)
    repositories: dict[Name, Repository] = Field(
        default_factory=dict, description="Repositories by name."
    )
    replication: list[Name] = Field(
        default_factory=list,
        description=(
            "Replication order: backups are written to the first repository, then new "
            "snapshots are copied to each following one in turn."
        ),
        examples=[["primary", "vnpt", "site2"]],
    )
    replication_timeout: PositiveDuration = Field(
        default=timedelta(hours=12),
        description=(
            "Longest one restic call of the replication job (the copy to one repository, a "
            "listing) may run before it is stopped; the run then fails and the next one "
            "resumes the copy. restic 0.14 has no network timeout: on a link that silently "
            "drops packets it would wait for TCP to give up, about 15 minutes per request."
        ),
        examples=["12h", "2m"],
    )
    parallel_copies: bool = Field(
        default=False,
        description=(
            "Copy to every repository after the first at once instead of one after the other: "
            "the copies are independent (each from the first repository) and share the source "
            "site's outbound link. `egov backup plan` proposes it when the copies do not fit."
        ),
    )
    verify_days: WholeNumber = Field(
        default=30,
        ge=1,
        le=366,
        description="Read every pack of every repository once over this many days.",
    )
    datasets: dict[Name, Dataset] = Field(default_factory=dict, description="Datasets by name.")
    planning: BackupPlanning = Field(
        default_factory=BackupPlanning,
        description="Declared rates and the window `egov backup plan` predicts the night with.",
    )
