"""Storing a backup's manifest as its own ``--stdin`` snapshot, with little left for the end.

restic spends most of a second opening a repository (its key derivation), and the manifest
names a data snapshot whose id is known only when the backup ends. So the manifest's restic
is started with the backup and opens the repository meanwhile; the manifest is written into
its stdin as soon as it is made, all but the snapshot id, which comes last in the JSON
(``name_snapshot``); restic chunks and encrypts it while the backup still runs. When the
backup ends, only the id and the end of input are left to write.

Nothing half-written is ever stored by a run that fails or is stopped: the process is
interrupted (SIGINT) before its stdin is closed, and restic stores nothing it did not read to
the end. Only a kill of egov alone (not of restic, which systemd's stop also kills) could
close the stream early; the torn JSON it would leave is skipped by every reader
(``find_manifest``), the manifest before it naming its own snapshot.
"""

from __future__ import annotations

from egov.backup.datasets import BackupJob, make_manifest_tags
from egov.backup.manifest import MANIFEST_FILENAME, get_snapshot_suffix, name_snapshot
from egov.backup.restic import Outcome, make_stdin_backup_command
from egov.backup.resticexec import Restic, ResticResult


def make_manifest_command(job: BackupJob) -> tuple[str, ...]:
    """The manifest's ``--stdin`` backup: same host, the manifest tags."""
    return make_stdin_backup_command(
        MANIFEST_FILENAME, job.host, make_manifest_tags(job.dataset, job.site)
    )


class ManifestSnapshot:
    """The restic process that will store one backup's manifest, started now."""

    def __init__(self, restic: Restic, job: BackupJob) -> None:
        self._restic = restic
        self._job = job
        self._process = restic.start(make_manifest_command(job))
        self._fed = False

    def feed(self, manifest: str) -> None:
        """Write ``manifest`` (``serialize_manifest``'s JSON) but its closing brace.

        Called from the thread that makes the manifest; a process that has failed already is
        left alone, and ``store`` then gives the whole manifest to a process of its own.
        """
        process = self._process
        if process is None or process.exited:
            return
        self._fed = process.feed(manifest[:-1])
        if not self._fed:  # some of it may have gone in: this process must store nothing
            process.cancel()
            self._process = None

    def store(self, manifest: str, snapshot_id: str) -> None:
        """Store ``manifest`` naming ``snapshot_id``; raise BackupError when it cannot be.

        When the early process has failed (the repository was created or a link blinked
        since), the manifest is stored by a process of its own.
        """
        result: ResticResult | None = None
        if self._process is not None and not self._process.exited:
            # fed: only the id is left, and the whole text is never copied on this path
            rest = (
                get_snapshot_suffix(snapshot_id)
                if self._fed
                else name_snapshot(manifest, snapshot_id)
            )
            result = self._restic.finish(self._process, rest)
        if result is None or result.outcome is not Outcome.OK:
            command = make_manifest_command(self._job)
            result = self._restic.run(command, input_text=name_snapshot(manifest, snapshot_id))
        self._restic.check(result, f"storing the manifest of {self._job.dataset}")

    def cancel(self) -> None:
        """Interrupt the process if it still runs, before its stdin closes: no manifest, and
        never a partial one. A no-op once ``store`` has finished it."""
        if self._process is not None:
            self._process.cancel()
