"""``egov backup snapshots``, ``restore`` and ``verify``: what a repository holds, getting a
dataset back out of it, and proving that it can be."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    load_inventory,
    print_json,
    stderr,
    stdout,
)
from egov.cli.backup_options import CacheDirOption, StateDirOption, make_backup_settings
from egov.errors import InputError
from egov.hostlayout import RESTIC_CACHE_DIRECTORY

if TYPE_CHECKING:
    from egov.backup.agent import AgentSettings
    from egov.backup.datasetrestore import Restored
    from egov.backup.repositories import RepositoryConfig
    from egov.inventory.model import Estate


def backup_snapshots(
    repository: Annotated[
        str | None,
        typer.Option("--repository", help="Default: the first of the replication order."),
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset")] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Only this host's: site/host or site-host.")
    ] = None,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """List egov's snapshots in a repository (this lists the repository: it is slow)."""
    from egov.backup import datasetrestore
    from egov.backup.repositories import get_repository

    estate = load_inventory(inventory).estate
    if dataset is not None:
        _check_dataset(estate, dataset)
    config = get_repository(estate, repository)
    snapshots = datasetrestore.list_snapshots(
        config, make_backup_settings(None, cache_dir), dataset, _get_snapshot_host(estate, host)
    )
    if output is OutputFormat.JSON:
        print_json([snapshot.model_dump(mode="json") for snapshot in snapshots])
        return
    table = Table("id", "time", "host", "dataset", "paths")
    for snapshot in snapshots:
        table.add_row(
            snapshot.short_id,
            snapshot.time.isoformat(timespec="seconds"),
            snapshot.hostname,
            snapshot.get_tag_value("dataset") or "",
            " ".join(snapshot.paths),
        )
    stdout.print(table)


def backup_restore(
    dataset: Annotated[str, typer.Option("--dataset", help="The dataset to restore.")],
    target: Annotated[
        Path | None, typer.Option("--target", help="Restore here (an empty or new directory).")
    ] = None,
    to_host: Annotated[
        str | None,
        typer.Option(
            "--to-host", help="Restore on this host (site/host or site-host) under --target."
        ),
    ] = None,
    repository: Annotated[str | None, typer.Option("--repository")] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Only snapshots of this host (site/host or site-host)."),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Read back and compare with the backup-time checksums.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    to_time: Annotated[
        str | None,
        typer.Option(
            "--to-time",
            help="Point in time from the WAL archive (ISO 8601; the estate's timezone unless "
            "an offset is given), into --target on the archive host.",
        ),
    ] = None,
    to_latest: Annotated[
        bool, typer.Option("--to-latest", help="The end of the WAL archive, as --to-time.")
    ] = False,
    from_site: Annotated[
        str | None,
        typer.Option("--from-site", help="With --to-time/--to-latest: the archive of this site."),
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
    inventory: InventoryOption = None,
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Restore a dataset's latest snapshot to a path here, or on a host; or a database
    dataset to a point in time from its WAL archive (--to-time, --to-latest)."""
    from egov.backup.datasetrestore import restore_dataset
    from egov.backup.repositories import get_repository
    from egov.errors import CommandFailed
    from egov.execute import run_command
    from egov.ssh import make_ssh_command

    estate = load_inventory(inventory).estate
    _check_dataset(estate, dataset)
    if target is None:
        raise InputError("--target is required", "give the directory to restore into")
    if to_time is not None or to_latest:
        _restore_point_in_time(
            estate, dataset, target, to_time, to_latest, from_site, verify, output,
            [name for name, given in (("--to-host", to_host), ("--repository", repository),
             ("--host", host), ("--dry-run", dry_run)) if given],
        )  # fmt: skip
        return
    if from_site is not None:
        raise InputError("--from-site goes with --to-time or --to-latest")
    config = get_repository(estate, repository)
    snapshot_host = _get_snapshot_host(estate, host)
    if to_host is not None:
        from egov.inventory.selectors import resolve_host

        ref = resolve_host(estate, to_host, "--to-host")
        remote = [
            "egov",
            "agent",
            "restore",
            "--dataset",
            dataset,
            "--repository",
            config.name,
            "--target",
            str(target),
        ]
        remote += ["--verify"] if verify else []
        argv = make_ssh_command(estate, ref, remote)
        if dry_run:
            stdout.print(" ".join(argv), soft_wrap=True)
            return
        try:
            run_command(argv)
        except CommandFailed as error:
            from egov.errors import BackupError

            raise BackupError(
                f"restore on {to_host} failed: {error.stderr_tail.strip()[-400:]}"
            ) from None
        stdout.print(f"restored {dataset} from {config.name} on {to_host} into {target}")
        return
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(
            f"--target {target}: exists and is not an empty directory",
            "choose a new or empty directory",
        )
    if dry_run:
        stdout.print(f"would restore the latest {dataset} from {config.name} into {target}")
        return
    snapshot = restore_dataset(
        config,
        dataset,
        target,
        make_backup_settings(None, cache_dir),
        host=snapshot_host,
        verify=verify,
        kind=estate.backup.datasets[dataset].kind,
        shards=estate.backup.datasets[dataset].shards,
    )
    report_restore(
        dataset, snapshot, f"from {config.name} (site {config.site}) into {target}", verify
    )


def _restore_point_in_time(
    estate: Estate,
    dataset: str,
    target: Path,
    to_time: str | None,
    to_latest: bool,
    from_site: str | None,
    verify: bool,
    output: OutputFormat,
    conflicting: list[str],
) -> None:
    from egov.cli.backup_archive import parse_target_time, restore_from_archive

    if to_time is not None and to_latest:
        raise InputError("--to-time and --to-latest exclude each other", "give one of them")
    if conflicting:
        raise InputError(
            f"{', '.join(conflicting)}: not with a point-in-time restore",
            "it runs on the archive host, into --target there",
        )
    moment = None if to_time is None else parse_target_time(to_time, estate.timezone)
    restore_from_archive(estate, dataset, target, moment, from_site, verify, output)


def report_restore(dataset: str, restored: Restored, where: str, verify: bool) -> None:
    """The one line that reports a restore and how far it was checked, and its warning."""
    check = ", read back by restic" if verify else ""
    if restored.compared:
        check = ", verified against the manifest taken at backup time"
    stdout.print(f"restored {dataset} snapshot {restored.snapshot_id[:8]} {where}{check}")
    if restored.note:
        stderr.print(f"warning: {restored.note}", markup=False)


def backup_verify(
    repository: Annotated[
        str | None, typer.Option("--repository", help="Default: every repository.")
    ] = None,
    restore_test: Annotated[
        bool, typer.Option("--restore-test", help="Also restore and prove every dataset.")
    ] = False,
    inventory: InventoryOption = None,
    state_dir: StateDirOption = None,
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Read the next 1/t of each repository (rolling check); optionally run restore tests."""
    from egov.backup.repositories import make_repository_config
    from egov.backup.restoretest import RestoreTarget, run_restore_test
    from egov.errors import BackupError

    estate = load_inventory(inventory).estate
    names = (
        [repository]
        if repository
        else list(estate.backup.replication or estate.backup.repositories)
    )
    configs = [make_repository_config(estate, name) for name in names]
    settings = make_backup_settings(state_dir, cache_dir)
    failures = []
    for config in configs:
        error = verify_repository(config, estate.backup.verify_days, settings)
        if error:
            failures.append(error)
        if not restore_test:
            continue
        for name, dataset in estate.backup.datasets.items():
            test = RestoreTarget(
                name, dataset.kind, tuple(dataset.databases), tuple(dataset.sanity_queries)
            )
            result = run_restore_test(config, test, settings)
            stdout.print(
                f"restore test of {name} from {config.name}: {result.result.value} "
                f"in {result.duration_seconds:.1f} s"
            )
            if result.error:
                failures.append(result.error)
    if restore_test and repository is None:
        from egov.cli.backup_archive import run_archive_restore_tests

        failures += run_archive_restore_tests(estate)
    if failures:
        raise BackupError("\n".join(failures), "the records under the state directory say the same")


def verify_repository(
    config: RepositoryConfig, verify_days: int, settings: AgentSettings
) -> str | None:
    """Check the next subset of ``config`` (one line says which, and how it went); its error."""
    from egov.backup.verification import run_verification

    record = run_verification(config, verify_days, settings)
    stdout.print(f"check {record.subset}/{record.subsets} of {config.name}: {record.result.value}")
    return record.error


def _check_dataset(estate: Estate, dataset: str) -> None:
    """Refuse a ``--dataset`` the inventory does not declare."""
    if dataset not in estate.backup.datasets:
        raise InputError(
            f"--dataset {dataset}: no such dataset",
            f"datasets: {', '.join(estate.backup.datasets)}",
        )


def _get_snapshot_host(estate: Estate, host: str | None) -> str | None:
    """restic's host name (``site-host``) of the one host ``--host`` names, or None."""
    from egov.inventory.selectors import resolve_host

    return None if host is None else resolve_host(estate, host, "--host").qualified_name
