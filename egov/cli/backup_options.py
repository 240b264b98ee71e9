"""The options and settings the backup commands share (``egov backup …`` and ``egov agent …``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from egov.backup.agent import AgentSettings

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


def make_backup_settings(
    state_dir: Path | None,
    cache_dir: Path,
    textfiles: Path | None = None,
    timeout_seconds: float | None = None,
) -> AgentSettings:
    """The settings of a backup job run here: records under ``state_dir`` (default: the
    state directory), restic's cache, metrics written to ``textfiles`` if given."""
    from egov.backup.agent import AgentSettings
    from egov.records import get_state_dir

    return AgentSettings(
        state_dir=state_dir or get_state_dir(),
        cache_dir=cache_dir,
        textfile_directory=textfiles,
        timeout_seconds=timeout_seconds,
    )
