"""The directory a point-in-time recovery writes into: taken only new or empty, and given back
as it was found when the recovery fails.

``barman recover`` and the replay fill the directory step by step; one failing halfway would
leave a partial cluster behind, one a user may take for a recovered database and that is in
the way of the next try. So a failed recovery cleans its target: a directory egov created (with
the parents it created for it) is removed, a directory that existed is emptied again and gets
its mode and owner back. Nothing that was there before is removed: the target was empty, and
egov touches nothing outside it.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from egov.errors import BackupError


@dataclass(frozen=True)
class RecoveryTarget:
    """A recovery's directory, and what egov did to have it."""

    directory: Path
    #: the topmost directory egov created for it (the target itself or a parent of it); None
    #: when the target existed
    created: Path | None
    #: the existing target's mode, owner and group, given back when it is emptied
    status: tuple[int, int, int] | None


def check_target(directory: Path) -> None:
    """Raise BackupError unless ``directory`` is new or an empty directory."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(
            f"{directory} exists and is not an empty directory",
            "give a new or empty directory: a recovery never writes over what is there",
        )


def make_target(directory: Path) -> RecoveryTarget:
    """Create ``directory`` (0700) and its missing parents, or take it as it is when it exists;
    raise BackupError when it is not new or empty (again: a file may have come since the
    recovery started) or cannot be created (then what was created is gone again)."""
    check_target(directory)
    created = None
    for path in (directory, *directory.parents):
        if path.exists():
            break
        created = path
    if created is None:
        found = directory.stat()
        return RecoveryTarget(
            directory, None, (stat.S_IMODE(found.st_mode), found.st_uid, found.st_gid)
        )
    try:
        directory.mkdir(mode=0o700, parents=True)
    except OSError as error:
        shutil.rmtree(created, ignore_errors=True)
        raise BackupError(f"cannot create {directory}: {error}") from None
    return RecoveryTarget(directory, created, None)


def clean_target(target: RecoveryTarget) -> str:
    """Give ``target`` back as it was before the recovery; say what was done, for the error
    that follows (and what is left to do by hand when it could not be)."""
    directory = target.directory
    try:
        if target.created is not None:
            shutil.rmtree(target.created)
            if target.created == directory:
                return f"{directory} was removed (egov had created it)"
            return f"{target.created} was removed (egov had created it for {directory})"
        for child in directory.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        if target.status is not None:
            mode, owner, group = target.status
            os.chown(directory, owner, group)
            directory.chmod(mode)
    except OSError as error:
        return (
            f"{directory} could not be cleaned ({error}): what the recovery left there is "
            "partial; remove it by hand"
        )
    return f"{directory} was emptied again (it was empty before)"
