"""Cross-checks of the backup section the types cannot express: repositories at real sites on
storage hosts or complete S3 settings, datasets with repositories and hosts that exist, and
whether each service's data is backed up often enough for its RPO target.

Pure functions of the validated estate, as the rest of ``checks.py`` runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from egov.inventory.addresses import get_url_address, is_placeholder
from egov.inventory.backup import Dataset, DatasetKind, RepositoryKind
from egov.inventory.derive import (
    get_covering_interval,
    get_dataset_repository,
    get_remote_replicas,
    resolve_host_selector,
)
from egov.inventory.fields import format_duration
from egov.inventory.findings import Finding
from egov.inventory.findings import make_error as _error
from egov.inventory.findings import make_placeholder_finding as _placeholder
from egov.inventory.findings import make_warning as _warning
from egov.inventory.model import Estate
from egov.inventory.yamlsource import PathKey


def check_repositories(estate: Estate) -> Iterator[Finding]:
    """Repositories sit at real sites, on storage hosts or complete S3 settings."""
    for name, repository in estate.backup.repositories.items():
        path: PathKey = ("backup", "repositories", name)
        if repository.site not in estate.sites:
            yield _error((*path, "site"), f"repository {name} is at unknown site")
            continue
        if repository.kind is RepositoryKind.REST:
            if repository.host is None:
                yield _error(path, f"rest repository {name} needs `host:`")
                continue
            if repository.rest_password is None:
                yield _error(
                    path,
                    f"rest repository {name} needs `rest_password:` (the backup clients' "
                    "login to its REST server)",
                    "add rest_password: file:/etc/egov/secrets/rest-NAME",
                )
            target = estate.find_host(repository.site, repository.host)
            if target is None:
                yield _error(
                    (*path, "host"),
                    f"repository {name} is served by unknown host "
                    f"{repository.site}/{repository.host}",
                )
            elif "storage" not in target.host.roles:
                yield _error(
                    (*path, "host"),
                    f"repository {name} is served by {target.selector}, which lacks the "
                    "storage role",
                    "add `storage` to that host's roles",
                )
        else:
            missing = [
                key
                for key in ("endpoint", "bucket", "access_key", "secret_key")
                if getattr(repository, key) is None
            ]
            if missing:
                yield _error(path, f"s3 repository {name} needs {', '.join(missing)}")
            elif repository.endpoint is not None:
                address = get_url_address(repository.endpoint)
                if address is not None and is_placeholder(address):
                    yield _placeholder(
                        estate, (*path, "endpoint"), f"repository {name} has placeholder endpoint"
                    )
    for index, name in enumerate(estate.backup.replication):
        if name not in estate.backup.repositories:
            yield _error(
                ("backup", "replication", index), f"replication names unknown repository {name}"
            )
    if len(set(estate.backup.replication)) != len(estate.backup.replication):
        yield _error(("backup", "replication"), "a repository appears twice in replication")


def check_datasets(estate: Estate) -> Iterator[Finding]:
    """Datasets have a repository, hosts that exist, and what their kind needs."""
    for name, dataset in estate.backup.datasets.items():
        path: PathKey = ("backup", "datasets", name)
        repository = get_dataset_repository(estate, dataset)
        if repository is None:
            yield _error(
                path,
                f"dataset {name} has no repository",
                "add `repository:` to it, or list repositories under backup.replication",
            )
        elif repository not in estate.backup.repositories:
            yield _error(
                (*path, "repository"), f"dataset {name} names unknown repository {repository}"
            )
        elif estate.backup.repositories[repository].kind is RepositoryKind.S3:
            # With the bucket's keys a client could delete what it wrote, and no party creates
            # such a repository (clients never create a shared one); copies get there instead.
            yield _error(
                (*path, "repository") if dataset.repository else ("backup", "replication", 0),
                f"dataset {name} would be written straight to s3 repository {repository}",
                "back up to a rest repository served by a storage host (append-only) and list "
                f"{repository} after it in backup.replication",
            )
        for index, selector in enumerate(dataset.hosts):
            hosts = resolve_host_selector(estate, selector)
            if not hosts:
                yield _error(
                    (*path, "hosts", index), f"dataset {name}: {selector!r} matches no host"
                )
            if dataset.kind is DatasetKind.POSTGRES:
                for ref in hosts:
                    if not {"db", "db-replica"} & set(ref.host.roles):
                        yield _error(
                            (*path, "hosts", index),
                            f"postgres dataset {name} runs on {ref.selector}, "
                            "which has no database role",
                        )
        if dataset.kind is DatasetKind.FILES and not dataset.paths:
            yield _error(path, f"files dataset {name} lists no paths", "add `paths: [/srv/...]`")
        if dataset.kind is DatasetKind.POSTGRES and not dataset.databases:
            yield _error(path, f"postgres dataset {name} lists no databases")
        if dataset.kind is DatasetKind.POSTGRES and dataset.shards != 1:
            yield _error(
                (*path, "shards"),
                f"postgres dataset {name} cannot be sharded: each database is one dump stream",
                "remove `shards:` (it applies to `files` datasets only)",
            )
        if dataset.archive is not None:
            yield from _check_archive(estate, name, dataset)


def _check_archive(estate: Estate, name: str, dataset: Dataset) -> Iterator[Finding]:
    """An archive belongs to a postgres dataset and lives on hosts apart from the databases."""
    path: PathKey = ("backup", "datasets", name, "archive")
    if dataset.kind is not DatasetKind.POSTGRES:
        yield _error(
            path, f"dataset {name} is not a postgres dataset: only databases have a WAL archive"
        )
        return
    assert dataset.archive is not None
    for index, selector in enumerate(dataset.archive.hosts):
        refs = resolve_host_selector(estate, selector)
        if not refs:
            yield _error((*path, "hosts", index), f"archive host {selector!r} matches no host")
        elif {"db", "db-replica"} & set(refs[0].host.roles):
            yield _error(
                (*path, "hosts", index),
                f"archive host {selector} is a database host: the archive must be out of the "
                "database hosts' reach",
                "archive on the site's storage host",
            )
    if len(set(dataset.archive.hosts)) != len(dataset.archive.hosts):
        yield _error((*path, "hosts"), f"dataset {name}: an archive host appears twice")


def check_rpo_targets(estate: Estate) -> Iterator[Finding]:
    """An RPO shorter than the backup interval needs continuous replication to be met."""
    primary = estate.primary_site
    for service_name, service in estate.services.items():
        path: PathKey = ("services", service_name, "rpo")
        for database in service.data.databases:
            host = estate.find_host(primary, database.host)
            if host is None:
                continue  # check_services reports it
            # the estate as designed: a replica at a planned site will meet the RPO once built
            if get_remote_replicas(estate, primary, database.host).designed:
                continue
            interval = get_covering_interval(estate, host, database=database.name)
            yield from _rpo_finding(
                path,
                service_name,
                database.rpo or service.rpo,
                f"database {database.name}",
                interval,
            )
        for files in service.data.files:
            host = estate.find_host(primary, files.host)
            if host is None:
                continue  # check_services reports it
            interval = get_covering_interval(estate, host, path=files.path)
            yield from _rpo_finding(
                path, service_name, files.rpo or service.rpo, f"files {files.path}", interval
            )


def _rpo_finding(
    path: PathKey, service: str, rpo: timedelta, what: str, interval: timedelta | None
) -> Iterator[Finding]:
    if interval is None:
        yield _warning(
            path,
            f"service {service}: {what} is in no backup dataset",
            "add a dataset under backup.datasets covering it",
        )
    elif interval > rpo:
        yield _warning(
            path,
            f"service {service}: RPO target {format_duration(rpo)} is shorter than the backup "
            f"interval {format_duration(interval)} of {what}, and nothing replicates it "
            "continuously",
            "back it up more often, add a streaming replica at another site, or relax the target",
        )
