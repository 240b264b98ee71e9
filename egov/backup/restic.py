"""restic's command lines and the meaning of what it prints, as pure functions.

Builders return argv *without* the repository or any secret: those travel in the child's
environment (``RESTIC_REPOSITORY_FILE``, ``RESTIC_PASSWORD_FILE``, ``AWS_*``), so the argv is
always safe to show in an error. Parsers read ``--json`` output only; restic adds fields and
message types between versions, so unknown keys are ignored and missing ones default.

Written against restic 0.14 (Debian 12), the oldest supported: ``init``, ``check`` and
``copy`` print no JSON there, and the exit codes 10/11/12 arrive only with 0.17, so the
stderr text of 0.14 is classified as a fallback (``resticoutcome``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from egov.inventory.backup import Retention

RESTIC = "restic"
MINIMUM_VERSION = (0, 14, 0)
#: restic prints ~10 progress lines a second even into a pipe; one a minute is plenty in logs.
PROGRESS_FPS = "0.0166"
MANIFEST_TAG = "egov-manifest"
EGOV_TAG = "egov"


def parse_version(text: str) -> tuple[int, int, int]:
    """``restic 0.14.0 compiled with go1.19.8 on linux/amd64`` → ``(0, 14, 0)``.

    ``restic version --json`` does not exist in 0.14, so the text is read for the number only.
    Raise ValueError when no version is found.
    """
    match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", text)
    if match is None:
        raise ValueError(f"no restic version in {text[:80]!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def make_version_command() -> tuple[str, ...]:
    """``restic version``."""
    return (RESTIC, "version")


def make_tag_options(tags: Iterable[str]) -> tuple[str, ...]:
    """``--tag a,b``: one option with a comma list means *all* of them (AND)."""
    joined = ",".join(tags)
    return ("--tag", joined) if joined else ()


def make_backup_command(
    paths: Sequence[str],
    host: str,
    tags: Sequence[str],
    excludes: Sequence[str] = (),
    *,
    parent: str | None = None,
    time: str | None = None,
) -> tuple[str, ...]:
    """``restic backup`` of ``paths`` as ``host`` with ``tags`` (each ``--tag`` separate);
    ``parent`` names the snapshot to compare with (else restic takes the last one of the
    same paths), ``time`` the snapshot's (``2026-12-05 01:30:00``, restic's local time)."""
    if not paths:
        raise ValueError("a files backup needs at least one path")
    options = [option for tag in tags for option in ("--tag", tag)]
    options += [option for pattern in excludes for option in ("--exclude", pattern)]
    options += ["--parent", parent] if parent else []
    options += ["--time", time] if time else []
    return (RESTIC, "backup", "--json", "--host", host, *options, "--", *paths)


def make_stdin_backup_command(filename: str, host: str, tags: Sequence[str]) -> tuple[str, ...]:
    """``restic backup --stdin``: the stream becomes ``/<filename>`` in the snapshot."""
    options = [option for tag in tags for option in ("--tag", tag)]
    stdin = ("--stdin", "--stdin-filename", filename)
    return (RESTIC, "backup", "--json", "--host", host, *options, *stdin)


def make_copy_command(tag_sets: Sequence[Sequence[str]] = ()) -> tuple[str, ...]:
    """``restic copy`` from ``RESTIC_FROM_REPOSITORY_FILE`` into the repository.

    Each tag set is one ``--tag`` (snapshots matching any set are copied). Snapshots already
    in the target are skipped, so an interrupted copy is resumed by running it again.

    The source is read without a lock (``--no-lock`` applies to it alone; the target is
    locked). With copies to several targets at once, each locking the source, one copy's
    lock checked by another just as the first removed it made restic 0.14 retry loading
    the vanished lock ten times, about a minute (restic's issue #1523), past the lab's
    30 s bound: CI failed on it once and the lab showed it again. The copy only reads the
    source; a prune of the source meanwhile (the retention, at another hour) can make a
    copy fail, never store a snapshot whose data is missing: the next run resumes.
    """
    options = [option for tags in tag_sets for option in make_tag_options(tags)]
    return make_unlocked((RESTIC, "copy", *options))


def make_forget_command(
    retention: Retention,
    *,
    prune: bool = True,
    dry_run: bool = False,
    group_by: str = "host,tags",
) -> tuple[str, ...]:
    """``restic forget`` with the grandfather-father-son counts, always with ``--keep-within``.

    Grouping by host and tags keeps each dataset (and each database) its own history: the
    counts then apply per dataset, not across the repository.
    """
    within = max(int(retention.within.total_seconds() // 3600), 1)
    argv = [RESTIC, "forget", "--json", "--group-by", group_by, "--keep-within", f"{within}h"]
    for flag, count in (
        ("--keep-daily", retention.daily),
        ("--keep-weekly", retention.weekly),
        ("--keep-monthly", retention.monthly),
        ("--keep-yearly", retention.yearly),
    ):
        if count:
            argv += [flag, str(count)]
    if prune:
        argv.append("--prune")
    if dry_run:
        argv.append("--dry-run")
    return tuple(argv)


def make_check_command(subset: int | None = None, subsets: int | None = None) -> tuple[str, ...]:
    """``restic check``, reading data group ``subset`` of ``subsets`` when both are given."""
    if subset is None or subsets is None:
        return (RESTIC, "check", "--json")
    if not 1 <= subset <= subsets:
        raise ValueError(f"subset {subset} is outside 1..{subsets}")
    return (RESTIC, "check", "--json", f"--read-data-subset={subset}/{subsets}")


def make_snapshots_command(
    tags: Sequence[str] = (),
    host: str | None = None,
    latest: int | None = None,
    *,
    or_tags: Sequence[str] = (),
) -> tuple[str, ...]:
    """``restic snapshots --json``, optionally only snapshots carrying all ``tags``, or
    all ``or_tags`` (a second ``--tag``: restic lists the snapshots matching either set, so
    a dataset's data and manifests come in one process, one key derivation)."""
    options = [option for tag_set in (tags, or_tags) for option in make_tag_options(tag_set)]
    argv = [RESTIC, "snapshots", "--json", *options]
    if host is not None:
        argv += ["--host", host]
    if latest is not None:
        argv += ["--latest", str(latest)]
    return tuple(argv)


def make_unlocked(argv: Sequence[str]) -> tuple[str, ...]:
    """A read-only ``argv`` (``snapshots``, ``stats``) run without a lock: it neither
    writes one nor reads the others', so a lock that vanishes while restic 0.14 lists them
    (a backup ending meanwhile) cannot hold it up for a minute (``make_copy_command``)."""
    return (*argv[:2], "--no-lock", *argv[2:])


def make_restore_command(snapshot_id: str, target: str, *, verify: bool = True) -> tuple[str, ...]:
    """``restic restore <id> --target <dir>``; ``--verify`` reads every restored file back."""
    argv = [RESTIC, "restore", "--json", snapshot_id, "--target", target]
    if verify:
        argv.append("--verify")
    return tuple(argv)


def make_restore_latest_command(
    tags: Sequence[str], host: str | None, target: str
) -> tuple[str, ...]:
    """``restic restore latest --tag … [--host H] --target <dir>``: restic itself picks the
    newest snapshot carrying all ``tags`` (of ``host``), with no listing beforehand."""
    argv = [RESTIC, "restore", "latest", *make_tag_options(tags), "--target", target]
    if host is not None:
        argv += ["--host", host]
    return tuple(argv)


_RESTORING = re.compile(r"^restoring <Snapshot ([0-9a-f]{8,64}) of ", re.MULTILINE)
NO_LATEST_SNAPSHOT = "latest snapshot for criteria not found"


def parse_restored_snapshot_id(stdout: str) -> str | None:
    """The (short) id in restic 0.14's ``restoring <Snapshot 3bcef086 of [...] ...> to …``."""
    found = _RESTORING.search(stdout)
    return found.group(1) if found else None


def make_dump_command(snapshot_id: str, path: str) -> tuple[str, ...]:
    """``restic dump <id> <path>``: one file of a snapshot to stdout."""
    return (RESTIC, "dump", snapshot_id, path)


def make_stats_command(mode: str = "raw-data") -> tuple[str, ...]:
    """``restic stats --json``; ``raw-data`` is the repository's size after deduplication."""
    return (RESTIC, "stats", "--json", "--mode", mode)


def make_init_command(*, copy_chunker_params: bool = False) -> tuple[str, ...]:
    """``restic init``; a copy target takes the source's chunker parameters (from
    ``RESTIC_FROM_REPOSITORY_FILE``), or copies would lose deduplication."""
    return (RESTIC, "init", "--copy-chunker-params") if copy_chunker_params else (RESTIC, "init")


def make_cat_config_command() -> tuple[str, ...]:
    """``restic cat config``: the documented "is the repository initialised?" probe."""
    return (RESTIC, "cat", "config")


def make_unlock_command() -> tuple[str, ...]:
    """``restic unlock``: removes stale locks only (never ``--remove-all``)."""
    return (RESTIC, "unlock")


class _Json(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BackupSummary(_Json):
    """The ``summary`` line of ``restic backup --json``."""

    snapshot_id: str | None = None
    files_new: int = 0
    files_changed: int = 0
    files_unmodified: int = 0
    data_added: int = 0
    total_files_processed: int = 0
    total_bytes_processed: int = 0
    total_duration: float = 0.0


class Snapshot(_Json):
    """One element of ``restic snapshots --json``."""

    id: str
    time: datetime
    hostname: str = ""
    paths: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    original: str | None = Field(
        default=None, description="For a snapshot made by `restic copy`: the source's id."
    )

    def is_copy_of(self, snapshot_id: str) -> bool:
        """Whether this is ``snapshot_id`` (a prefix) or a copy of it in another repository."""
        return self.id.startswith(snapshot_id) or (
            self.original is not None and self.original.startswith(snapshot_id)
        )

    @property
    def short_id(self) -> str:
        """The first 8 hex digits, as restic shows them."""
        return self.id[:8]

    @property
    def timestamp(self) -> float:
        """Epoch seconds."""
        return self.time.timestamp()

    def get_tag_value(self, prefix: str) -> str | None:
        """The value of the first ``prefix:value`` tag: ``dataset`` → ``etc``."""
        for tag in self.tags:
            if tag.startswith(f"{prefix}:"):
                return tag[len(prefix) + 1 :]
        return None


class Stats(_Json):
    """``restic stats --json``."""

    total_size: int = 0
    total_file_count: int = 0
    snapshots_count: int = 0


def _json_lines(stdout: str) -> list[dict[str, object]]:
    messages = []
    for raw in stdout.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                messages.append(value)
    return messages


def parse_backup_summary(stdout: str) -> BackupSummary | None:
    """The summary of a ``backup --json`` run, or None when restic printed none."""
    summaries = [line for line in _json_lines(stdout) if line.get("message_type") == "summary"]
    return BackupSummary.model_validate(summaries[-1]) if summaries else None


def parse_snapshots(stdout: str) -> list[Snapshot]:
    """The snapshots of ``snapshots --json``, oldest first; raise ValueError on other output."""
    value = json.loads(stdout or "[]")
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("restic snapshots --json did not print an array")
    snapshots = [Snapshot.model_validate(item) for item in value]
    return sorted(snapshots, key=lambda snapshot: snapshot.time)


def parse_stats(stdout: str) -> Stats:
    """``stats --json``; raise ValueError on other output."""
    return Stats.model_validate_json(stdout.strip().splitlines()[-1] if stdout.strip() else "{}")


def parse_check_errors(stdout: str, stderr: str) -> list[str]:
    """What ``check`` found wrong: JSON ``error`` lines (newer restic), else 0.14's text."""
    found = [
        str(line.get("message", line))
        for line in _json_lines(stdout) + _json_lines(stderr)
        if line.get("message_type") in ("error", "exit_error")
    ]
    if found:
        return found
    return [
        line.strip()
        for line in (stdout + "\n" + stderr).splitlines()
        if re.search(r"error|Fatal|pack .* (contains|does not match)|incomplete", line, re.I)
        and "no errors were found" not in line
    ]
