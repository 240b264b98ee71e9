"""Which datasets a host backs up, with which tags, as pure data.

Every snapshot egov writes carries ``egov``, ``dataset:<name>`` and ``site:<site>`` (plus
``database:<db>`` for a dump, one snapshot per database) and the qualified host name as
restic's ``--host``: one dataset's history on one host is then one ``restic snapshots --tag
dataset:X --host H`` query, at every repository the snapshots are copied to.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from egov.backup.restic import EGOV_TAG, MANIFEST_TAG
from egov.inventory.backup import DatasetKind
from egov.inventory.derive import get_dataset_repository, is_backed_up_by
from egov.inventory.model import Estate, HostRef

PG_DUMP_USER = "postgres"


class BackupJob(BaseModel):
    """One dataset backed up from one host (serialised into /etc/egov/agent.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    kind: DatasetKind
    host: str = Field(description="Qualified host name, restic's --host: primary-db-01.")
    site: str
    repository: str
    paths: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    databases: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="Tags every snapshot carries.")
    shards: int = Field(
        default=1, ge=1, description="Concurrent restic processes of a files backup (shards.py)."
    )


def make_dataset_tags(dataset: str, site: str, extra: list[str] | None = None) -> list[str]:
    """``["egov", "dataset:etc", "site:primary", *extra]``."""
    return [EGOV_TAG, f"dataset:{dataset}", f"site:{site}", *(extra or [])]


def make_manifest_tags(dataset: str, site: str) -> list[str]:
    """Tags of the manifest snapshot stored beside each data snapshot (see manifest.py)."""
    return [MANIFEST_TAG, f"dataset:{dataset}", f"site:{site}"]


def make_host_jobs(estate: Estate, ref: HostRef) -> list[BackupJob]:
    """The datasets ``ref`` backs up, in inventory order (none when no repository exists)."""
    jobs = []
    for name, dataset in estate.backup.datasets.items():
        repository = get_dataset_repository(estate, dataset)
        if not is_backed_up_by(dataset, ref) or repository is None:
            continue
        jobs.append(
            BackupJob(
                dataset=name,
                kind=dataset.kind,
                host=ref.qualified_name,
                site=ref.site,
                repository=repository,
                paths=list(dataset.paths),
                exclude=list(dataset.exclude),
                databases=list(dataset.databases),
                tags=make_dataset_tags(name, ref.site, list(dataset.tags)),
                shards=dataset.shards,
            )
        )
    return jobs


def make_dump_command(database: str, user: str = PG_DUMP_USER) -> tuple[str, ...]:
    """``pg_dump --format=custom`` of ``database`` as ``user``: one consistent snapshot of
    the database (a single transaction), compressed, ready for ``pg_restore``."""
    return ("runuser", "-u", user, "--", "pg_dump", "--format=custom", "--", database)


def make_dump_filename(database: str) -> str:
    """The dump's name inside the snapshot: ``portal.dump``."""
    return f"{database}.dump"
