"""A files dataset split into shards: which top-level entries each shard backs up, its tag,
its parent, and which snapshots make one run. Pure, but for ``list_top_level_entries``.

A run of a dataset with ``shards: N`` is N ``restic backup`` processes at once into the same
repository (restic's backup takes a shared lock: they do not wait on each other), each given
its share of the *top-level entries* (what lies directly under each of the dataset's paths;
a path that is a file, or an empty directory, is an entry of its own). Every snapshot of the
run carries the dataset's tags plus ``shard:IofN`` and the same ``--time`` (the run's start):
one run is then exactly the snapshots of one host at one time, whatever order restic started
them in, and a copy in another repository keeps both.

Balanced by count, not size: sizing each entry would cost a walk of the whole tree before
restic starts its own, the very walk the shards are there to divide; the file stores egov is
for hold many top-level directories of like size (dossiers by office and year). Stable: an
entry keeps its shard from run to run (``ShardState``, in the agent's state directory), and
only an entry new since the last run goes to the shard with the fewest; so each shard's
paths change only by what was added or removed, and its last snapshot, named as restic's
``--parent``, lets restic skip every unchanged file of it. A changed shard count starts over.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egov.backup.restic import MANIFEST_TAG, Snapshot

SHARD_TAG_PREFIX = "shard"
_SHARD_TAG = re.compile(rf"^{SHARD_TAG_PREFIX}:(\d+)of(\d+)$")


def make_shard_tag(index: int, count: int) -> str:
    """``shard:2of4`` for the second of four shards (``index`` from 1)."""
    return f"{SHARD_TAG_PREFIX}:{index}of{count}"


def parse_shard_tag(tags: Iterable[str]) -> tuple[int, int] | None:
    """``(2, 4)`` from the ``shard:2of4`` among ``tags``; None for an unsharded snapshot."""
    for tag in tags:
        found = _SHARD_TAG.match(tag)
        if found:
            return int(found.group(1)), int(found.group(2))
    return None


def list_top_level_entries(paths: Sequence[str]) -> list[str]:
    """The entries the shards divide: what lies directly under each of ``paths``, sorted; a
    path that is not a directory (a file, or missing: restic then says so) or is an empty
    directory is an entry itself, so every path is backed up by some shard."""
    entries: list[str] = []
    for path in paths:
        try:
            with os.scandir(path) as listing:
                children = sorted(f"{path.rstrip('/')}/{entry.name}" for entry in listing)
        except (NotADirectoryError, FileNotFoundError):
            children = []
        entries += children or [path]
    return sorted(set(entries))


class ShardState(BaseModel):
    """What the last run left for the next: each entry's shard and each shard's snapshot.

    ``<state>/shards/<dataset>.json``; lost, the next run assigns afresh (sorted, round
    robin, as a first run does) and restic picks its parents itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(ge=1)
    entries: dict[str, int] = Field(default_factory=dict, description="entry → shard (from 1)")
    parents: dict[int, str] = Field(
        default_factory=dict, description="shard → id of its last successful snapshot"
    )


def assign_shards(
    entries: Sequence[str], count: int, previous: ShardState | None = None
) -> list[list[str]]:
    """The entries of each of ``count`` shards (each sorted; a shard may be empty when there
    are fewer entries than shards). Every entry is in exactly one shard.

    An entry ``previous`` assigned (with the same count) stays where it was; the others, in
    sorted order, each go to the shard holding the fewest entries then (the lowest on a tie).
    """
    if count < 1:
        raise ValueError(f"a dataset has at least one shard, not {count}")
    kept = previous.entries if previous is not None and previous.count == count else {}
    shards: list[list[str]] = [[] for _ in range(count)]
    new = []
    for entry in sorted(set(entries)):
        index = kept.get(entry)
        if index is not None and 1 <= index <= count:
            shards[index - 1].append(entry)
        else:
            new.append(entry)
    for entry in new:
        min(shards, key=len).append(entry)  # min returns the first of the smallest
    return [sorted(shard) for shard in shards]


def get_parent(previous: ShardState | None, index: int, count: int) -> str | None:
    """The snapshot shard ``index`` of ``count`` continues from: its own last one, when the
    last run had as many shards; None lets restic choose (same paths, same host)."""
    if previous is None or previous.count != count:
        return None
    return previous.parents.get(index)


def make_shard_state(
    shards: Sequence[Sequence[str]], made: dict[int, str], previous: ShardState | None
) -> ShardState:
    """The state after a run that assigned ``shards`` and made the snapshots ``made`` (shard
    → id): a shard that failed keeps its last good parent."""
    count = len(shards)
    parents = {
        index: parent
        for index in range(1, count + 1)
        if (parent := made.get(index) or get_parent(previous, index, count)) is not None
    }
    entries = {entry: index for index, shard in enumerate(shards, 1) for entry in shard}
    return ShardState(count=count, entries=entries, parents=parents)


def get_state_path(state_dir: Path, dataset: str) -> Path:
    """``<state>/shards/<dataset>.json``."""
    return state_dir / "shards" / f"{dataset}.json"


def read_shard_state(state_dir: Path, dataset: str) -> ShardState | None:
    """The last run's state; None when there is none or it cannot be read (a fresh start)."""
    try:
        return ShardState.model_validate_json(get_state_path(state_dir, dataset).read_bytes())
    except (OSError, ValidationError):
        return None


def write_shard_state(state_dir: Path, dataset: str, state: ShardState) -> None:
    """Replace the state atomically (a run killed while writing leaves the old one)."""
    path = get_state_path(state_dir, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(state.model_dump_json())
    partial.replace(path)


@dataclass(frozen=True)
class Run:
    """The snapshots one run of a dataset made on one host: one, or one per shard."""

    host: str
    time: float
    count: int
    snapshots: tuple[Snapshot, ...]

    @property
    def complete(self) -> bool:
        """Whether every shard made its snapshot (an unsharded run always did)."""
        indexes = {parse_shard_tag(snapshot.tags) for snapshot in self.snapshots}
        return len(indexes) == self.count


def group_runs(snapshots: Iterable[Snapshot]) -> list[Run]:
    """The runs of the files snapshots among ``snapshots`` (manifests and dumps left out),
    oldest first: a sharded run's snapshots share dataset, host, time and shard count; every
    unsharded snapshot is a run of its own."""
    runs: dict[tuple[str, str, float, int, str], list[Snapshot]] = {}
    for snapshot in snapshots:
        if MANIFEST_TAG in snapshot.tags or snapshot.get_tag_value("database") is not None:
            continue
        shard = parse_shard_tag(snapshot.tags)
        # an unsharded snapshot is keyed by its own id: two at one second are two runs
        key = (
            snapshot.get_tag_value("dataset") or "",
            snapshot.hostname,
            snapshot.timestamp,
            shard[1] if shard else 1,
            "" if shard else snapshot.id,
        )
        runs.setdefault(key, []).append(snapshot)
    return sorted(
        (Run(key[1], key[2], key[3], tuple(found)) for key, found in runs.items()),
        key=lambda run: run.time,
    )


def pick_newest_complete_run(snapshots: Iterable[Snapshot]) -> Run | None:
    """The newest run of ``snapshots`` whose every shard was stored (a run one shard of
    which failed restores only part of the dataset); None when there is none."""
    complete = [run for run in group_runs(snapshots) if run.complete]
    return complete[-1] if complete else None


def get_run_of(snapshots: Iterable[Snapshot], snapshot: Snapshot) -> list[Snapshot]:
    """Every snapshot of the run ``snapshot`` belongs to, among ``snapshots`` (its shards, in
    shard order; just itself when unsharded)."""
    for run in group_runs(snapshots):
        if any(member.id == snapshot.id for member in run.snapshots):
            return sorted(run.snapshots, key=lambda member: parse_shard_tag(member.tags) or (0, 0))
    return [snapshot]
