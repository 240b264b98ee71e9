"""Backups and replications started now from the control node, on their hosts' own units.

Running a backup "now" on a host starts its systemd unit over SSH (``systemctl start
--wait egov-backup@<dataset>.service``): the run then holds the same lock, writes the same
record and metrics and logs to the same journal as the nightly one. ``egov backup run``
chooses the host × dataset pairs here; ``egov backup replicate`` and the drills start the
replication unit with the same command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from egov.backup.datasets import make_host_jobs
from egov.errors import InputError
from egov.hostlayout import make_backup_unit
from egov.inventory.model import Estate, HostRef


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


def make_start_command(target: RunTarget) -> tuple[str, ...]:
    """What runs on the host: a run of the dataset's unit that starts now, waited for.

    ``systemctl start`` on a unit already running (its timer fired) only waits for that
    run, which began before whatever the caller just changed: wait for it to end first.
    """
    return make_run_now_command(target.unit)


#: How much of a failed run's own output the caller is shown: its last lines say why.
FAILED_RUN_LINES = 12


def make_run_now_command(unit: str) -> tuple[str, ...]:
    """``sh -c`` waiting for a run of oneshot ``unit`` in flight, then starting a new one.

    When the run fails, ``systemctl`` says only "Job for … failed"; the run's own last lines
    (what its processes logged since it started, never systemd's words about it) follow on
    stderr, so that whoever started it reads why without a second login. The exit code is
    the run's."""
    journal = (
        f"journalctl _SYSTEMD_UNIT={unit} --since @$started -o cat "
        f"-n {FAILED_RUN_LINES} --no-pager >&2"
    )
    return (
        "sh",
        "-c",
        f"{make_wait_script(unit)}; started=$(date +%s); systemctl start --wait {unit}"
        f" || {{ code=$?; {journal}; exit $code; }}",
    )


def make_wait_script(unit: str) -> str:
    """Shell that returns once no run of oneshot ``unit`` is in flight."""
    state = f"systemctl show --property=ActiveState --value {unit}"
    return (
        f'while [ "$({state})" = activating ] || [ "$({state})" = deactivating ]; do sleep 1; done'
    )
