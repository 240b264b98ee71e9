"""``egov agent archive-metrics``: the WAL archive's textfile metrics on an archive host (run as
root by ``egov-archive-metrics.timer``, every 20 s)."""

from __future__ import annotations

from pathlib import Path

from egov.cli.app import stderr
from egov.cli.backup_options import AgentConfigOption
from egov.errors import InputError
from egov.hostlayout import AGENT_CONFIG_FILE


def agent_archive_metrics(config: AgentConfigOption = Path(AGENT_CONFIG_FILE)) -> None:
    """Read each Barman server of this host (its WAL, base backups, checks) into the
    node_exporter textfile; a part that cannot be read is reported here and in the metrics."""
    import time

    from egov.backup.agentconfig import AgentConfig
    from egov.backup.archivemetrics import run_archive_metrics

    loaded = AgentConfig.load(config)
    if not loaded.archives:
        raise InputError(
            f"{config}: this host runs no Barman server",
            "run it on a host named in a dataset's archive.hosts (after `egov deploy`)",
        )
    states = run_archive_metrics(
        loaded.archives, loaded.host, Path(loaded.textfile_directory), time.time()
    )
    for state in states:
        for error in state.errors:
            stderr.print(f"{state.server}: {error}", markup=False, soft_wrap=True)
