"""Running a point-in-time restore on an archive host: ``egov agent archive-restore`` over
SSH, its JSON read back as a ``Recovery``.

``egov backup restore --to-time``, ``egov backup verify --restore-test`` and the
``operator-error`` drill all recover this way, so the argv and the reading of the answer
live here, once.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from egov.errors import BackupError

if TYPE_CHECKING:
    from egov.backup.pointintime import Recovery
    from egov.backup.walarchive import ArchivedCluster
    from egov.inventory.model import Estate


def make_agent_argv(
    pair: ArchivedCluster,
    estate: Estate,
    target: Path,
    moment: datetime | None,
    verify: bool,
    throwaway: bool = False,
) -> list[str]:
    """``egov agent archive-restore`` as the archive host runs it."""
    dataset = estate.backup.datasets[pair.dataset]
    argv = ["egov", "agent", "archive-restore", "--server", pair.server,
            "--primary", str(pair.cluster.host.address), "--target", str(target)]  # fmt: skip
    if moment is not None:
        argv += ["--to-time", moment.isoformat()]
    if throwaway:
        argv.append("--throwaway")
    if verify:
        argv.append("--verify")
        for database in dataset.databases:
            argv += ["--database", database]
        for query in dataset.sanity_queries:
            argv += ["--sanity-query", query]
    return argv


#: How much of the end of the agent's stderr a failure shows: where it says why.
AGENT_ERROR_CHARS = 600


def run_agent_restore(
    estate: Estate,
    pair: ArchivedCluster,
    target: Path,
    moment: datetime | None,
    *,
    verify: bool,
    throwaway: bool = False,
) -> Recovery:
    """Run ``egov agent archive-restore`` on ``pair``'s archive host over SSH and read the
    recovery it printed; raise BackupError with the end of the agent's stderr when it fails,
    or with what it printed when that is no recovery."""
    from pydantic import ValidationError

    from egov.backup.pointintime import Recovery
    from egov.errors import CommandFailed
    from egov.execute import run_command
    from egov.ssh import make_ssh_command

    host = pair.archive_host.selector
    remote = make_agent_argv(pair, estate, target, moment, verify, throwaway)
    try:
        answer = run_command(
            make_ssh_command(estate, pair.archive_host, remote), timeout_seconds=None
        )
    except CommandFailed as error:
        raise BackupError(
            f"point-in-time restore on {host} failed: "
            f"{error.stderr_tail.strip()[-AGENT_ERROR_CHARS:]}"
        ) from None
    try:
        return Recovery.model_validate_json(answer.stdout)
    except ValidationError:
        raise BackupError(
            f"point-in-time restore on {host} printed no recovery: "
            f"{answer.stdout.strip()[-AGENT_ERROR_CHARS:]!r}"
        ) from None
