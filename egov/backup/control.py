"""What ``egov backup`` does from the control node: choose hosts, reach them, read state.

Running a backup "now" on a host starts its systemd unit over SSH (``systemctl start
--wait egov-backup@<dataset>.service``): the run then holds the same lock, writes the same
record and metrics and logs to the same journal as the nightly one. Restores and snapshot
listings run restic here against the repository with the inventory's secrets.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from egov.backup.agent import AgentSettings
from egov.backup.datasets import make_host_jobs
from egov.backup.manifest import compare_manifest
from egov.backup.manifestformat import Manifest
from egov.backup.repositories import RepositoryConfig, make_repository_config, open_repository
from egov.backup.restic import (
    EGOV_TAG,
    MANIFEST_TAG,
    NO_LATEST_SNAPSHOT,
    Snapshot,
    make_restore_command,
    make_restore_latest_command,
    make_snapshots_command,
    parse_restored_snapshot_id,
    parse_snapshots,
)
from egov.backup.restoretest import find_manifest, pick_copy
from egov.backup.status import DatasetStatus, make_status
from egov.errors import BackupError, InputError
from egov.hostlayout import make_backup_unit
from egov.inventory.backup import DatasetKind
from egov.inventory.model import Estate, HostRef
from egov.records import (
    BackupRecord,
    CatalogRecord,
    RestoreTestRecord,
    VerificationRecord,
    read_records,
)

SSH_CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class RunTarget:
    """One dataset to back up now on one host."""

    ref: HostRef
    dataset: str

    @property
    def unit(self) -> str:
        """``egov-backup@etc.service``."""
        return make_backup_unit(self.dataset)


def make_run_targets(
    estate: Estate, dataset: str | None, hosts: Sequence[HostRef] | None = None
) -> list[RunTarget]:
    """Host × dataset pairs of ``hosts`` (default: every host; the CLI chooses them with
    ``egov.inventory.selectors``) backing up ``dataset`` (default: any); raise InputError on
    an unknown dataset, and when no pair is left."""
    if dataset is not None and dataset not in estate.backup.datasets:
        raise InputError(
            f"--dataset {dataset}: no such dataset",
            f"datasets: {', '.join(estate.backup.datasets) or 'none'}",
        )
    targets = [
        RunTarget(ref, job.dataset)
        for ref in (estate.iter_hosts() if hosts is None else hosts)
        for job in make_host_jobs(estate, ref)
        if dataset is None or job.dataset == dataset
    ]
    if not targets:
        raise InputError("no host backs up a dataset matching these filters")
    return targets


def make_ssh_command(estate: Estate, ref: HostRef, remote: Sequence[str]) -> tuple[str, ...]:
    """``ssh`` to ``ref`` with strict host keys, running ``remote`` (quoted)."""
    settings = ref.host.ssh
    user = settings.user or estate.ssh.user or "root"
    port = settings.port or estate.ssh.port or 22
    key = settings.key or estate.ssh.key
    known_hosts = settings.known_hosts or estate.ssh.known_hosts
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT_SECONDS}", "-p", str(port)]
    if known_hosts:
        argv += ["-o", f"UserKnownHostsFile={known_hosts}"]
    if key and key.startswith("file:"):
        argv += ["-i", key.removeprefix("file:")]  # the key's path, never its content
    return (*argv, f"{user}@{ref.host.address}", shlex.join(remote))


def make_start_command(target: RunTarget) -> tuple[str, ...]:
    """What runs on the host: a run of the dataset's unit that starts now, waited for.

    ``systemctl start`` on a unit already running (its timer fired) only waits for that
    run, which began before whatever the caller just changed: wait for it to end first.
    """
    return make_run_now_command(target.unit)


def make_run_now_command(unit: str) -> tuple[str, ...]:
    """``sh -c`` waiting for a run of oneshot ``unit`` in flight, then starting a new one."""
    return ("sh", "-c", f"{make_wait_script(unit)}; systemctl start --wait {unit}")


def make_wait_script(unit: str) -> str:
    """Shell that returns once no run of oneshot ``unit`` is in flight."""
    state = f"systemctl show --property=ActiveState --value {unit}"
    return (
        f'while [ "$({state})" = activating ] || [ "$({state})" = deactivating ]; do sleep 1; done'
    )


def load_status(estate: Estate, state_dir: Path, now: float) -> list[DatasetStatus]:
    """The status rows from the records in ``state_dir`` (no repository is listed)."""
    return make_status(
        estate,
        read_records(CatalogRecord, state_dir),
        read_records(BackupRecord, state_dir),
        read_records(VerificationRecord, state_dir),
        read_records(RestoreTestRecord, state_dir),
        now,
    )


def get_repository(estate: Estate, name: str | None) -> RepositoryConfig:
    """The named repository (default: the first of the replication order)."""
    chosen = name or (estate.backup.replication[0] if estate.backup.replication else None)
    if chosen is None:
        raise InputError("the inventory declares no repository", "add backup.repositories")
    return make_repository_config(estate, chosen)


def list_snapshots(
    repository: RepositoryConfig,
    settings: AgentSettings,
    dataset: str | None = None,
    host: str | None = None,
) -> list[Snapshot]:
    """egov's data snapshots in ``repository``, oldest first."""
    tags = [EGOV_TAG] + ([f"dataset:{dataset}"] if dataset else [])
    with open_repository(
        repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
    ) as restic:
        result = restic.run(make_snapshots_command(tags, host))
        restic.check(result, "listing snapshots")
        return parse_snapshots(result.stdout)


def pick_latest_per_stream(
    snapshots: list[Snapshot], anchor_id: str | None = None
) -> list[Snapshot]:
    """The newest snapshot of each stream of a dataset, oldest first.

    A file dataset is one stream; a PostgreSQL dataset has one per database (each dump is
    its own snapshot, tagged ``database:<name>``), and a restore needs all of them. With
    ``anchor_id`` (the snapshot a manifest names, or its copy) nothing newer is taken.
    """
    if anchor_id is not None:
        anchor = next((s for s in snapshots if s.is_copy_of(anchor_id)), None)
        if anchor is None:
            return []
        snapshots = [s for s in snapshots if s.time <= anchor.time]
    latest: dict[str | None, Snapshot] = {}
    for snapshot in sorted(snapshots, key=lambda s: s.time):
        if MANIFEST_TAG in snapshot.tags:
            continue
        latest[snapshot.get_tag_value("database")] = snapshot
    return sorted(latest.values(), key=lambda s: s.time)


@dataclass(frozen=True)
class Restored:
    """What ``restore_dataset`` restored, and how far it was checked."""

    snapshot_id: str
    time: float | None = None
    """Epoch seconds; None when restic's own ``latest`` chose (no listing was made)."""
    compared: bool = False
    """Whether the files were compared with the manifest taken at backup time."""
    note: str | None = None
    """Why a newer snapshot was restored unchecked, or left alone."""
    listed_times: tuple[float, ...] = ()
    """When each of the dataset's snapshots was taken, from the listing the choice was made
    from (empty when restic chose): what there was to restore, without listing again."""


def choose_restore(
    listed: Sequence[Snapshot],
    manifest: Manifest | None,
    before: float | None,
    dataset: str,
    repository: str,
) -> tuple[list[Snapshot], Manifest | None, str | None]:
    """Which snapshots of ``dataset`` to restore, the manifest to compare them with, and a
    note when the newest snapshot has no manifest in ``repository``.

    The newest snapshot's manifest may be missing: a replication that listed the source
    between a backup's data snapshot and its manifest (stored a moment later) copied the one
    without the other until its next run, or the agent died in between. A file snapshot is
    whole whenever restic saved it, so the newest is restored (the data matters most in a
    recovery), checked by restic's read-back alone, and the note says so. A dump without
    its manifest may hold a stream cut short, so a database dataset keeps the newest
    snapshot its manifest vouches for, and the note names the newer one left alone.
    """
    in_time = [s for s in listed if before is None or s.timestamp < before]
    newest = pick_latest_per_stream(in_time)
    if manifest is None or not manifest.snapshot_id:
        return newest, manifest, None
    anchor = pick_copy(listed, manifest.snapshot_id, dataset, repository)
    # a manifest chosen by ``before`` anchors its snapshot, which restic may have stamped a
    # moment later than the manifest's own process
    anchored = pick_latest_per_stream(list(listed), anchor.id)
    latest = newest[-1] if newest else None
    if latest is None or latest.time <= anchored[-1].time:
        return anchored, manifest, None
    if any(s.get_tag_value("database") for s in newest):
        return (
            anchored,
            manifest,
            f"snapshot {latest.short_id} is newer but has no manifest in {repository}: a dump "
            f"without its manifest may be cut short, so {anchored[-1].short_id} was restored",
        )
    return (
        newest,
        None,
        f"snapshot {latest.short_id} has no manifest in {repository} yet (copied before its "
        "manifest was stored, or its backup died): read back by restic, not compared",
    )


def restore_dataset(
    repository: RepositoryConfig,
    dataset: str,
    target: Path,
    settings: AgentSettings,
    *,
    host: str | None = None,
    verify: bool = False,
    before: float | None = None,
    kind: DatasetKind | None = None,
) -> Restored:
    """Restore the latest snapshot of ``dataset`` into ``target``.

    With ``before`` (epoch seconds), the latest taken before then: a point in time before
    some damage. With ``verify``, restic reads every restored file back and the files are
    compared with the manifest taken at backup time (see ``choose_restore`` for a newest
    snapshot without one). Raise BackupError on any difference.

    A file dataset (``kind``) is one stream: for its plain latest restore, restic's own
    ``latest`` picks the snapshot, which spares a listing process and its key derivation
    (the id returned is then restic's short one). A database dataset has a stream per
    database, so it is always listed first.
    """
    with open_repository(
        repository, cache_dir=settings.cache_dir, timeout_seconds=settings.timeout_seconds
    ) as restic:
        if kind is DatasetKind.FILES and not verify and before is None:
            argv = make_restore_latest_command([EGOV_TAG, f"dataset:{dataset}"], host, str(target))
            result = restic.run(argv)
            if NO_LATEST_SNAPSHOT in result.stderr:
                raise BackupError(f"dataset {dataset} has no snapshot in {repository.name}")
            restic.check(result, f"restore of {dataset}")
            restored = parse_restored_snapshot_id(result.stdout)
            if restored is None:
                raise BackupError(f"restore of {dataset}: restic named no snapshot")
            return Restored(restored)
        found = find_manifest(restic, dataset, host, before)[1] if verify else None
        result = restic.run(make_snapshots_command([EGOV_TAG, f"dataset:{dataset}"], host))
        restic.check(result, "listing snapshots")
        listed = parse_snapshots(result.stdout)
        chosen, manifest, note = choose_restore(listed, found, before, dataset, restic.label)
        if not chosen:
            raise BackupError(f"dataset {dataset} has no snapshot in {repository.name}")
        for snapshot in chosen:
            result = restic.run(make_restore_command(snapshot.id, str(target), verify=verify))
            restic.check(result, f"restore of {dataset}")
    if manifest is not None:
        comparison = compare_manifest(manifest, target)
        if not comparison.ok:
            raise BackupError(
                f"restore of {dataset} from {repository.name} (site {repository.site}) "
                f"differs from the backup: {comparison.describe()}"
            )
    times = tuple(s.timestamp for s in listed if MANIFEST_TAG not in s.tags)
    return Restored(chosen[-1].id, chosen[-1].timestamp, manifest is not None, note, times)
