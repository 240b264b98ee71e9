"""What the ``egov drill`` commands share: where an estate's drills are kept, and the
progress line they write to stderr as a drill goes.

Split from ``drill.py`` so that the commands that run drills (``drill.py``) and those that
read their journals (``drill_journal.py``) take ``--drill-dir`` and say progress one way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from egov.cli.app import stderr
from egov.hostlayout import DRILLS_DIRECTORY

if TYPE_CHECKING:
    from egov.inventory.model import Estate

DRILL_DIR_ENVIRONMENT_VARIABLE = "EGOV_DRILL_DIR"

DrillDirOption = Annotated[
    Path | None,
    typer.Option(
        "--drill-dir",
        help="Journals and the lock "
        "[default: $EGOV_DRILL_DIR, else /var/lib/egov/drills/<estate>].",
        show_default=False,
    ),
]


def get_drill_dir(option: Path | None, estate: Estate) -> Path:
    """Where ``estate``'s journals and lock are: ``--drill-dir``, else $EGOV_DRILL_DIR, else
    the estate's directory under /var/lib/egov/drills."""
    if option is not None:
        return option
    from_environment = os.environ.get(DRILL_DIR_ENVIRONMENT_VARIABLE)
    return Path(from_environment) if from_environment else Path(DRILLS_DIRECTORY) / estate.name


def print_progress(message: str) -> None:
    """One line of a drill's progress on stderr, after the time of day."""
    stderr.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}", markup=True, soft_wrap=True)
