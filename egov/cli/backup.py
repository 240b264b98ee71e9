"""`egov backup …` and the agent's backup jobs: run, status, restore, verify, plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    TextColumn,
)
from rich.table import Table

from egov.cli.app import (
    ExcludeOption,
    InventoryOption,
    LimitOption,
    OutputFormat,
    OutputOption,
    agent_app,
    app,
    load_inventory,
    print_json,
    stderr,
    stdout,
)
from egov.errors import InputError
from egov.hostlayout import AGENT_CONFIG_FILE, REPLICATION_UNIT, RESTIC_CACHE_DIRECTORY
from egov.inventory.fields import MAX_DURATION, format_duration
from egov.outputfile import write_output_text

if TYPE_CHECKING:
    from egov.backup.agent import AgentSettings
    from egov.backup.agentconfig import AgentConfig
    from egov.backup.control import Restored
    from egov.backup.plan import BackupPlan, Night
    from egov.inventory.model import Estate

backup_app = typer.Typer(
    help="Back up, replicate, verify and restore the estate's data (restic).",
    no_args_is_help=True,
)
app.add_typer(backup_app, name="backup")

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="Records directory [default: $EGOV_STATE_DIR or /var/lib/egov/state]."
    ),
]
CacheDirOption = Annotated[Path, typer.Option("--cache-dir", help="restic's cache directory.")]
AgentConfigOption = Annotated[
    Path, typer.Option("--config", help="The agent's configuration, written by egov deploy.")
]


def _backup_settings(
    state_dir: Path | None,
    cache_dir: Path,
    textfiles: Path | None = None,
    timeout_seconds: float | None = None,
) -> AgentSettings:
    from egov.backup.agent import AgentSettings
    from egov.records import get_state_dir

    return AgentSettings(
        state_dir=state_dir or get_state_dir(),
        cache_dir=cache_dir,
        textfile_directory=textfiles,
        timeout_seconds=timeout_seconds,
    )


def _age(seconds: float | None) -> str:
    from datetime import timedelta

    if seconds is None:
        return "never"
    if seconds > MAX_DURATION.total_seconds():  # a plan from extreme assumptions
        return f"more than {format_duration(MAX_DURATION)}"
    return format_duration(timedelta(seconds=int(seconds)))


def _snapshot_host(estate: Estate, host: str | None) -> str | None:
    """restic's host name (``site-host``) of the one host ``--host`` names, or None."""
    from egov.inventory.selectors import resolve_host

    return None if host is None else resolve_host(estate, host, "--host").qualified_name


@backup_app.command("run")
def backup_run(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="Only these hosts (repeatable; the forms of --limit)."),
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="Only hosts of this site (repeatable).")
    ] = None,
    limit: LimitOption = None,
    exclude: ExcludeOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Back up now: start each matching host's backup unit over SSH and wait for it."""
    from egov.backup import control
    from egov.errors import BackupError, CommandFailed
    from egov.execute import run_command
    from egov.inventory.selectors import match_selector, select_hosts

    estate = load_inventory(inventory).estate
    for text in host or []:  # named as --host in the error, not as the --limit it joins
        match_selector(estate, text, "--host")
    hosts = select_hosts(
        estate, sites=site, limits=[*(host or []), *(limit or [])], excludes=exclude
    )
    targets = control.make_run_targets(estate, dataset, hosts)
    if dry_run:
        for target in targets:
            stdout.print(f"would start {target.unit} on {target.ref.selector}", soft_wrap=True)
        return
    failures = []
    with Progress(TextColumn("{task.description}"), MofNCompleteColumn(), console=stderr) as bar:
        task = bar.add_task("backing up", total=len(targets))
        for target in targets:
            bar.update(task, description=f"{target.dataset} on {target.ref.selector}")
            argv = control.make_ssh_command(estate, target.ref, control.make_start_command(target))
            try:
                run_command(argv, timeout_seconds=None)
                stdout.print(f"ok      {target.dataset} on {target.ref.selector}")
            except CommandFailed as error:
                failures.append(
                    f"{target.dataset} on {target.ref.selector}: {error.stderr_tail.strip()[-200:]}"
                )
                stdout.print(f"FAILED  {target.dataset} on {target.ref.selector}")
            bar.advance(task)
    if failures:
        raise BackupError(
            f"{len(failures)} of {len(targets)} backups failed:\n" + "\n".join(failures),
            "journalctl -u egov-backup@<dataset> on the host says why",
        )


@backup_app.command("replicate")
def backup_replicate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Replicate now (restic copy to every other repository, then the catalog refresh): a
    run of the replication host's unit that starts after any run in flight, waited for."""
    from egov.backup import control
    from egov.backup.agentconfig import get_replication_host
    from egov.errors import BackupError, CommandFailed
    from egov.execute import run_command

    estate = load_inventory(inventory).estate
    ref = get_replication_host(estate)
    if ref is None or not estate.backup.replication:
        raise InputError("the inventory replicates nothing", "list backup.replication")
    unit = REPLICATION_UNIT
    if dry_run:
        stdout.print(f"would start {unit} on {ref.selector}", soft_wrap=True)
        return
    argv = control.make_ssh_command(estate, ref, control.make_run_now_command(unit))
    stderr.print(f"→ replicating on {ref.selector}: {' → '.join(estate.backup.replication)}")
    try:
        run_command(argv, timeout_seconds=None)
    except CommandFailed as error:
        raise BackupError(
            f"replication on {ref.selector} failed: {error.stderr_tail.strip()[-300:]}",
            f"see `journalctl -u {unit}` on {ref.selector}, and `egov backup status`",
        ) from None
    stdout.print(f"replicated on {ref.selector}")


@backup_app.command("status")
def backup_status(
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
    state_dir: StateDirOption = None,
) -> None:
    """Per dataset and site: last snapshot, age against the RPO target, verified, size."""
    import time

    from egov.backup import control
    from egov.backup.status import make_protection_notes
    from egov.records import get_state_dir

    estate = load_inventory(inventory).estate
    rows = control.load_status(estate, state_dir or get_state_dir(), time.time())
    if output is OutputFormat.JSON:
        print_json([row.model_dump(mode="json") for row in rows])
        return
    table = Table(
        "dataset",
        "site",
        "repository",
        "hosts",
        "age",
        "target",
        "fresh",
        "verified",
        "restore test",
        "size",
    )
    now = time.time()
    for row in rows:
        table.add_row(
            row.dataset,
            row.site,
            row.repository,
            f"{row.hosts_present}/{row.hosts_expected}",
            _age(row.age_seconds),
            _age(row.target_seconds),
            "yes" if row.fresh else "[red]NO[/red]",
            _age(now - row.verified_at) + " ago" if row.verified_at else "never",
            row.restore_test_result or "never",
            f"{row.size_bytes / 1e9:.2f} GB" if row.size_bytes else "-",
        )
    stdout.print(table)
    for note in make_protection_notes(estate):
        stdout.print(note, markup=False, soft_wrap=True)


@backup_app.command("bucket-policy")
def backup_bucket_policy(
    repository: Annotated[str, typer.Option("--repository", help="An S3 repository.")],
    principal: Annotated[
        str,
        typer.Option(
            "--principal",
            help="The replication key's principal as the endpoint names it "
            "(e.g. arn:aws:iam::123456789012:user/egov-replication).",
        ),
    ],
    inventory: InventoryOption = None,
) -> None:
    """Print the bucket policy the province applies to a GOVERNANCE-locked bucket."""
    from egov.backup.bucket import get_bucket_name, render_bucket_policy
    from egov.backup.repositories import AccessKind, make_repository_config
    from egov.inventory.model import ObjectLockMode

    estate = load_inventory(inventory).estate
    config = make_repository_config(estate, repository)
    if config.kind is not AccessKind.S3:
        raise InputError(f"--repository {repository}: not an S3 repository")
    stdout.print(render_bucket_policy(get_bucket_name(config), principal), end="", markup=False)
    if config.object_lock is ObjectLockMode.GOVERNANCE:
        stderr.print(
            "apply it with the bucket owner's key (aws s3api put-bucket-policy --bucket "
            f"{get_bucket_name(config)} --policy file://policy.json): until then the "
            "replication key can delete locked versions",
            markup=False,
            soft_wrap=True,
        )
    else:
        stderr.print(
            f"{repository}'s lock is {config.object_lock.value}: the policy is defence in "
            "depth, not what the protection depends on",
            markup=False,
            soft_wrap=True,
        )


@backup_app.command("snapshots")
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
    from egov.backup import control

    estate = load_inventory(inventory).estate
    if dataset is not None and dataset not in estate.backup.datasets:
        raise InputError(
            f"--dataset {dataset}: no such dataset",
            f"datasets: {', '.join(estate.backup.datasets)}",
        )
    config = control.get_repository(estate, repository)
    snapshots = control.list_snapshots(
        config, _backup_settings(None, cache_dir), dataset, _snapshot_host(estate, host)
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


@backup_app.command("restore")
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
    inventory: InventoryOption = None,
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Restore a dataset's latest snapshot to a path here, or on a host."""
    from egov.backup import control
    from egov.errors import CommandFailed
    from egov.execute import run_command

    estate = load_inventory(inventory).estate
    if dataset not in estate.backup.datasets:
        raise InputError(
            f"--dataset {dataset}: no such dataset",
            f"datasets: {', '.join(estate.backup.datasets)}",
        )
    if target is None:
        raise InputError("--target is required", "give the directory to restore into")
    config = control.get_repository(estate, repository)
    snapshot_host = _snapshot_host(estate, host)
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
        argv = control.make_ssh_command(estate, ref, remote)
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
    snapshot = control.restore_dataset(
        config,
        dataset,
        target,
        _backup_settings(None, cache_dir),
        host=snapshot_host,
        verify=verify,
        kind=estate.backup.datasets[dataset].kind,
    )
    _report_restore(
        dataset, snapshot, f"from {config.name} (site {config.site}) into {target}", verify
    )


def _report_restore(dataset: str, restored: Restored, where: str, verify: bool) -> None:
    """The one line that reports a restore and how far it was checked, and its warning."""
    check = ", read back by restic" if verify else ""
    if restored.compared:
        check = ", verified against the manifest taken at backup time"
    stdout.print(f"restored {dataset} snapshot {restored.snapshot_id[:8]} {where}{check}")
    if restored.note:
        stderr.print(f"warning: {restored.note}", markup=False)


@backup_app.command("verify")
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
    from egov.backup.verification import run_verification
    from egov.errors import BackupError

    estate = load_inventory(inventory).estate
    names = (
        [repository]
        if repository
        else list(estate.backup.replication or estate.backup.repositories)
    )
    configs = [make_repository_config(estate, name) for name in names]
    settings = _backup_settings(state_dir, cache_dir)
    failures = []
    for config in configs:
        record = run_verification(config, estate.backup.verify_days, settings)
        stdout.print(
            f"check {record.subset}/{record.subsets} of {config.name}: {record.result.value}"
        )
        if record.error:
            failures.append(record.error)
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
    if failures:
        raise BackupError("\n".join(failures), "the records under the state directory say the same")


@backup_app.command("undelete")
def backup_undelete(
    repository: Annotated[str, typer.Option("--repository", help="An S3 repository.")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only deletions from this time on (ISO 8601, e.g. 2026-03-01T02:00+07:00).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would come back.")] = False,
    inventory: InventoryOption = None,
) -> None:
    """Bring back the objects of an S3 repository deleted (delete markers) since a time."""
    from datetime import datetime

    from egov.backup.bucket import get_bucket_name, make_s3_client
    from egov.backup.repositories import AccessKind, make_repository_config
    from egov.backup.undelete import get_object_versions, make_undelete_plan, run_undelete
    from egov.errors import BackupError

    estate = load_inventory(inventory).estate
    config = make_repository_config(estate, repository)
    if config.kind is not AccessKind.S3:
        raise InputError(
            f"--repository {repository}: not an S3 repository",
            "REST repositories are append-only: their clients cannot delete anything",
        )
    try:
        moment = datetime.fromisoformat(since) if since is not None else None
    except ValueError:
        raise InputError(
            f"--since {since}: not an ISO 8601 time", "e.g. 2026-03-01T02:00+07:00"
        ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.astimezone()  # a local time, as the operator reads the clock
    client = make_s3_client(config)
    bucket = get_bucket_name(config)
    plan = make_undelete_plan(get_object_versions(client, bucket), moment)
    verb = "would bring back" if dry_run else "brought back"
    if not dry_run:
        run_undelete(client, bucket, plan)
    stdout.print(
        f"{verb} {len(plan.restored)} objects of {repository} ({len(plan.markers)} delete "
        f"markers); {len(plan.locks)} restic locks left deleted",
        soft_wrap=True,
    )
    if plan.lost:
        raise BackupError(
            f"{len(plan.lost)} deleted objects have no version left: " + ", ".join(plan.lost[:10]),
            "the bucket's object lock did not keep them; restore them from another site",
        )
    if plan.restored and not dry_run:
        stdout.print("check the repository now: restic check (or egov backup verify)")


@backup_app.command("plan")
def backup_plan(
    inventory: InventoryOption = None,
    state_dir: StateDirOption = None,
    from_hosts: Annotated[
        bool,
        typer.Option(
            "--from-hosts", help="Also read each backup host's records over SSH (read-only)."
        ),
    ] = False,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="Draw the night into this SVG file.")
    ] = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """Predict the night from the inventory and the agents' records; propose what makes it fit.

    Sizes, files, change and rates come from the newest records in the state directory
    (and, with --from-hosts, on each backup host): measured; else from the inventory's
    estimates: declared. Each figure says which.
    """
    from egov.backup.chart import render_svg
    from egov.backup.plan import make_backup_plan
    from egov.backup.planinputs import load_plan_records, make_plan_inputs
    from egov.records import get_state_dir

    estate = load_inventory(inventory).estate
    records = load_plan_records(state_dir or get_state_dir())
    if from_hosts:
        import dataclasses

        from egov.backup.hostrecords import fetch_backup_records

        fetched = fetch_backup_records(estate)
        for host in fetched.unreachable:
            stderr.print(f"warning: records not read from {host}", markup=False, soft_wrap=True)
        records = dataclasses.replace(records, backups=[*records.backups, *fetched.records])
    plan = make_backup_plan(make_plan_inputs(estate, records))
    if svg is not None:
        night = plan.proposed if plan.proposals else plan.night
        write_output_text(svg, render_svg(night, plan.inputs.window_start))
    if output is OutputFormat.JSON:
        print_json(plan.model_dump(mode="json"))
        return
    _print_plan(plan)


def _print_plan(plan: BackupPlan) -> None:
    from egov.backup.plan import format_seconds
    from egov.inventory.fields import format_rate

    inputs = plan.inputs
    stdout.print(
        f"window: {inputs.window_start} for {format_seconds(inputs.window_seconds)}",
        soft_wrap=True,
    )
    for job in inputs.jobs:
        stdout.print(
            f"{job.dataset} on {job.host}: {job.size_bytes.value / 1e9:,.1f} GB "
            f"({job.size_bytes.source}), {job.files.value:,.0f} files ({job.files.source}), "
            f"{job.daily_change.value:.2%} a day ({job.daily_change.source}), "
            f"{job.throughput.value / 1e6:,.0f} MB/s and "
            f"{job.files_per_second.value:,.0f} files/s ({job.throughput.source})",
            soft_wrap=True,
            markup=False,
        )
    for link in inputs.links:
        rate = f"{format_rate(link.rate.value)} ({link.rate.source})" if link.rate else "unknown"
        stdout.print(f"copy {link.source_site} → {link.site}: {rate}", soft_wrap=True)
    if inputs.source_rate is not None:
        stdout.print(
            f"copies share {format_rate(inputs.source_rate.value)} out of "
            f"{inputs.links[0].source_site} ({inputs.source_rate.source})",
            soft_wrap=True,
        )
    _print_night("the night as configured", plan.night)
    if plan.proposals:
        stdout.print("proposed:", soft_wrap=True)
        for proposal in plan.proposals:
            stdout.print(f"  {proposal.kind}: {proposal.text}", soft_wrap=True, markup=False)
        _print_night("the night with the proposals", plan.proposed)
    for restore in plan.restores:
        stdout.print(
            f"restore {restore.dataset} ({restore.host}): {format_seconds(restore.seconds)} at "
            f"{restore.rate.value / 1e6:,.0f} MB/s ({restore.rate.source})",
            soft_wrap=True,
            markup=False,
        )


def _print_night(title: str, night: Night) -> None:
    from egov.backup.plan import format_seconds

    table = Table("job", "site", "start", "end", "GB", title=title)
    for job in night.jobs:
        table.add_row(
            job.label + (f" ×{job.shards}" if job.shards > 1 else ""),
            job.site,
            f"{job.start_seconds / 3600:+.2f} h",
            f"{job.end_seconds / 3600:+.2f} h",
            f"{job.bytes / 1e9:,.1f}",
        )
    stdout.print(table)
    for item in night.rpo:
        verdict = "ok" if item.meets else "[red]MISSES[/red]"
        stdout.print(
            f"RPO of {item.dataset} at {item.site}: {format_seconds(item.predicted_seconds)} "
            f"(target {format_seconds(item.target_seconds)}) {verdict}",
            soft_wrap=True,
        )
    for finding in night.findings:
        stdout.print(f"does not fit: {finding}", soft_wrap=True, markup=False)
    if night.fits:
        stdout.print(f"{title}: everything fits in the window", soft_wrap=True)


def _agent_config(config: Path) -> AgentConfig:
    from egov.backup.agentconfig import AgentConfig

    return AgentConfig.load(config)


@agent_app.command("backup")
def agent_backup(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Back up this host's datasets (run by egov-backup@<dataset>.service)."""
    from egov.backup.agent import run_agent_backup

    loaded = _agent_config(config)
    settings = _backup_settings(None, cache_dir, Path(loaded.textfile_directory))
    for record in run_agent_backup(
        loaded, settings, dataset, lambda line: stderr.print(line, markup=False)
    ):
        stdout.print(
            f"{record.dataset}: snapshot {record.snapshot_id}, {record.bytes_added} bytes added"
        )


@agent_app.command("replicate")
def agent_replicate(
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Copy new snapshots along the replication order, then refresh every catalog."""
    from egov.backup.replication import run_replication

    loaded = _agent_config(config)
    if not loaded.replication:
        raise InputError(
            f"{config}: this host does not replicate",
            "run it on the primary site's monitoring host",
        )
    for catalog in run_replication(
        loaded.repositories,
        loaded.replication,
        _backup_settings(None, cache_dir, timeout_seconds=loaded.replication_timeout_seconds),
        lambda line: stderr.print(line, markup=False, soft_wrap=True),
        loaded.object_lock_days,
    ):
        stdout.print(f"{catalog.repository}: {catalog.snapshot_count} snapshots")


@agent_app.command("retention")
def agent_retention(
    repository: Annotated[str, typer.Option("--repository", help="A repository kept here.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what forget would remove.")
    ] = False,
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Forget and prune a repository kept on this host (run by egov-retention@<repository>);
    for an S3 bucket, then purge the versions whose lock has ended."""
    from datetime import timedelta

    from egov.backup.repositories import AccessKind
    from egov.backup.retention import make_retention_plan, run_retention, run_s3_version_purge

    loaded = _agent_config(config)
    if repository not in loaded.retention:
        raise InputError(
            f"--repository {repository}: not kept on this host",
            f"kept here: {', '.join(loaded.retention) or 'none'}",
        )
    local = loaded.repositories[f"{repository}@local"]
    plan = make_retention_plan(local, loaded.retention_policy, dry_run=dry_run)
    stdout.print(run_retention(plan, local, _backup_settings(None, cache_dir)), soft_wrap=True)
    if local.kind is AccessKind.S3 and not dry_run:
        purge = run_s3_version_purge(local, timedelta(seconds=loaded.purge_after_seconds))
        stderr.print(
            f"{repository}: purged {purge.purged} object versions and "
            f"{purge.markers_removed} delete markers; {len(purge.still_locked)} objects "
            "still locked, left for a later run",
            markup=False,
            soft_wrap=True,
        )


@agent_app.command("verify")
def agent_verify(
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Read the next 1/t of every repository (run by egov-verify.timer)."""
    from egov.backup.verification import run_verification
    from egov.errors import BackupError

    loaded = _agent_config(config)
    settings = _backup_settings(None, cache_dir)
    failures = []
    for name in loaded.replication:
        record = run_verification(loaded.repositories[name], loaded.verify_days, settings)
        stdout.print(f"check {record.subset}/{record.subsets} of {name}: {record.result.value}")
        if record.error:
            failures.append(record.error)
    if failures:
        raise BackupError("\n".join(failures))


@agent_app.command("restore")
def agent_restore(
    dataset: Annotated[str, typer.Option("--dataset")],
    repository: Annotated[str, typer.Option("--repository")],
    target: Annotated[Path, typer.Option("--target")],
    verify: Annotated[bool, typer.Option("--verify")] = False,
    config: AgentConfigOption = Path(AGENT_CONFIG_FILE),
    cache_dir: CacheDirOption = Path(RESTIC_CACHE_DIRECTORY),
) -> None:
    """Restore a dataset on this host (what `egov backup restore --to-host` runs)."""
    from egov.backup.control import restore_dataset

    loaded = _agent_config(config)
    chosen = loaded.repositories.get(repository)
    if chosen is None:
        raise InputError(
            f"--repository {repository}: not configured on this host",
            f"configured: {', '.join(loaded.repositories)}",
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"--target {target}: exists and is not an empty directory")
    kinds = {job.dataset: job.kind for job in loaded.jobs}
    snapshot = restore_dataset(
        chosen,
        dataset,
        target,
        _backup_settings(None, cache_dir),
        verify=verify,
        kind=kinds.get(dataset),
    )
    _report_restore(dataset, snapshot, f"into {target}", verify)
