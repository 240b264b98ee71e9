"""Storing a backup's manifest as its own ``--stdin`` snapshot, with little left for the end.

restic spends most of a second opening a repository (its key derivation), and the manifest
names a data snapshot whose id is known only when the backup ends. So the manifest's restic
is started with the backup and opens the repository meanwhile; the manifest file is written
into its stdin as soon as it is made, all but the snapshot id, which is its last line
(``get_snapshot_suffix``); restic chunks and encrypts it while the backup still runs. When
the backup ends, only that line and the end of input are left to write. The manifest goes
from its file to restic a chunk at a time: it is never held whole in memory.

Nothing half-written is ever stored by a run that fails or is stopped: the process is
interrupted (SIGINT) before its stdin is closed, and restic stores nothing it did not read to
the end. Only a kill of egov alone (not of restic, which systemd's stop also kills) could
close the stream early; the manifest without its trailer it would leave is skipped by every
reader (``find_manifest``), the manifest before it naming its own snapshot.
"""

from __future__ import annotations

from pathlib import Path

from egov.backup.datasets import BackupJob, make_manifest_tags
from egov.backup.manifest import MANIFEST_FILENAME
from egov.backup.manifestformat import get_snapshot_suffix
from egov.backup.restic import make_stdin_backup_command
from egov.backup.resticexec import Restic, ResticResult
from egov.backup.resticoutcome import Outcome
from egov.errors import BackupError
from egov.execute import StartedCommand


def make_manifest_command(job: BackupJob) -> tuple[str, ...]:
    """The manifest's ``--stdin`` backup: same host, the manifest tags."""
    return make_stdin_backup_command(
        MANIFEST_FILENAME, job.host, make_manifest_tags(job.dataset, job.site)
    )


#: how much of the manifest file goes into restic's stdin at a time
FEED_CHUNK_CHARS = 1 << 20


class ManifestSnapshot:
    """The restic process that will store one backup's manifest, started now."""

    def __init__(self, restic: Restic, job: BackupJob) -> None:
        self._restic = restic
        self._job = job
        self._process = restic.start(make_manifest_command(job))
        self._fed = False

    def feed(self, manifest: Path) -> None:
        """Write the manifest file (``egov.backup.manifestformat``, no trailer yet) into the
        process's stdin, a chunk at a time, leaving it open for the trailer.

        Called from the thread that makes the manifest; a process that has failed already is
        left alone, and ``store`` then gives the whole manifest to a process of its own.
        """
        process = self._process
        if process is None or process.exited:
            return
        self._fed = _feed_file(process, manifest)
        if not self._fed:  # some of it may have gone in: this process must store nothing
            process.cancel()
            self._process = None

    def store(self, manifest: Path, snapshot_id: str) -> None:
        """Store the manifest file naming ``snapshot_id``; raise BackupError when it cannot be.

        When the early process has failed (the repository was created or a link blinked
        since), the manifest is stored by a process of its own, fed the same way.
        """
        result: ResticResult | None = None
        if self._process is not None and not self._process.exited:
            result = self._send(self._process, manifest, snapshot_id, fed=self._fed)
        if result is None or result.outcome is not Outcome.OK:
            process = self._restic.start(make_manifest_command(self._job))
            if process is None:
                raise BackupError(
                    f"storing the manifest of {self._job.dataset}: restic could not be started"
                )
            result = self._send(process, manifest, snapshot_id, fed=False)
        self._restic.check(result, f"storing the manifest of {self._job.dataset}")

    def _send(
        self, process: StartedCommand, manifest: Path, snapshot_id: str, *, fed: bool
    ) -> ResticResult:
        """Feed ``process`` the manifest (unless ``fed`` already), then its trailer and the
        end of input; a process the feed failed is interrupted, storing nothing."""
        if not fed and not _feed_file(process, manifest):
            return self._restic.cancel(process)
        return self._restic.finish(process, get_snapshot_suffix(snapshot_id))

    def cancel(self) -> None:
        """Interrupt the process if it still runs, before its stdin closes: no manifest, and
        never a partial one. A no-op once ``store`` has finished it."""
        if self._process is not None:
            self._process.cancel()


def _feed_file(process: StartedCommand, manifest: Path) -> bool:
    """Write the file ``manifest`` into ``process``'s stdin; False when the pipe broke."""
    with manifest.open(encoding="ascii") as handle:
        while chunk := handle.read(FEED_CHUNK_CHARS):
            if not process.feed(chunk):
                return False
    return True
