"""The ``backup`` deploy: the agent's configuration, secrets and systemd timers on each host.

- Every host that backs up a dataset gets /etc/egov/agent.json (``make_agent_config``, no
  secret in it), the repository secrets as separate 0600 files under /etc/egov/secrets
  (compared by digest, never diffed), the template unit ``egov-backup@.service`` and one
  ``egov-backup@<dataset>.timer`` per dataset: OnCalendar from the schedule, a randomized
  delay so hosts do not start at once, ``Persistent=true`` so a night missed while the host
  was off runs at boot. systemd never starts a unit that is already running, and the agent
  holds a per-dataset ``flock`` as well, so two runs of one dataset never overlap.
- The primary site's monitoring host replicates and refreshes the catalogs
  (``egov-replicate.timer``, ``REPLICATION_DELAY`` after the nightly start) and runs the
  rolling verification (``egov-verify.timer``).
- Each store host serving a REST repository runs its retention (``egov-retention@<repo>``)
  as the repository's system user, with the password handed over by systemd
  (``LoadCredential``), against the directory: no network credential can delete.
- An S3 repository's retention runs the same way on its retention host
  (``get_retention_host``: never where the clients are), as a transient user
  (``DynamicUser``) given the password and the *prune key* by systemd: only that host holds
  the prune key, and no client or replication host ever gets it.
"""

from __future__ import annotations

import json
from datetime import timedelta

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from egov.backup.agentconfig import (
    AGENT_CONFIG_PATH,
    get_replication_host,
    make_agent_config,
)
from egov.backup.repositories import (
    CLIENT_SECRETS,
    RETENTION_SECRETS,
    get_secret_file_name,
    make_secret_files,
)
from egov.deploys.context import get_context
from egov.deploys.render import as_file
from egov.deploys.secretfile import secret_file
from egov.errors import InputError
from egov.hostlayout import (
    AGENT_BINARY,
    BACKUP_UNIT_TEMPLATE,
    REPLICATION_TIMER,
    REPLICATION_UNIT,
    REPOSITORY_ROOT,
    RETENTION_UNIT_TEMPLATE,
    SECRET_DIRECTORY,
    UNIT_DIRECTORY,
    VERIFY_TIMER,
    VERIFY_UNIT,
    make_retention_unit,
)
from egov.inventory.backup import RepositoryKind, Schedule
from egov.inventory.derive import (
    REPLICATION_DELAY,
    REPLICATION_RANDOMIZED_DELAY,
    get_shortest_schedule,
)
from egov.inventory.model import Estate
from egov.secrets import read_secret

VERIFY_AT = "12:00"
RETENTION_AT = "18:00"
_HEADER = "# Written by egov deploy; local edits are overwritten.\n"
#: A stop (``systemctl stop``, a shutdown) signals the agent alone: the agent interrupts restic
#: with SIGINT (restic then removes its repository lock), records the run and exits by SIGTERM
#: (egov/stopping.py). Whatever is left once it has gone is killed.
STOP_BY_THE_AGENT = "KillMode=mixed\n"


def make_on_calendar(schedule: Schedule) -> str:
    """systemd OnCalendar for ``schedule``: 24h at 01:30 → ``*-*-* 01:30:00``;
    15m → ``*:0/15``; 6h at 01:30 → ``1/6:30:00``; 2d → ``*-*-1/2 01:30:00`` (days of the
    month: the step restarts each month, which is as close as a calendar gets); 7d with
    ``first_day: 4`` → ``*-*-4/7 01:30:00``.

    Raise InputError for sub-day intervals neither a divisor of an hour nor of a day in hours.
    """
    seconds = int(schedule.interval.total_seconds())
    hour, minute = (int(part) for part in schedule.at.split(":"))
    if seconds == 86400:
        return f"*-*-* {hour:02d}:{minute:02d}:00"
    if seconds > 86400:
        first = schedule.first_day or 1
        return f"*-*-{first}/{seconds // 86400} {hour:02d}:{minute:02d}:00"
    if seconds < 3600 and 3600 % seconds == 0:
        step = seconds // 60
        return f"*:{minute % step}/{step}"
    if seconds % 3600 == 0 and 86400 % seconds == 0:
        step = seconds // 3600
        return f"{hour % step}/{step}:{minute:02d}:00"
    raise InputError(
        f"a backup interval of {seconds // 60} minutes has no systemd calendar form",
        "use a divisor of an hour (5m, 15m, 30m) or of a day in hours (1h, 6h, 12h)",
    )


def make_replication_calendar(estate: Estate) -> tuple[str, timedelta]:
    """When replication (and the catalog refresh) runs, with its randomized delay.

    Nightly, ``REPLICATION_DELAY`` after the backups start; but as often as the most frequent
    dataset when one is backed up more than daily (a 5-minute file store needs its copies at
    the other sites as fresh, or their RPO is a day), half an interval after its backups.
    """
    shortest = get_shortest_schedule(estate)
    if shortest.interval >= timedelta(days=1):
        at = make_shifted_time(estate.backup.schedule.at, REPLICATION_DELAY)
        return f"*-*-* {at}:00", REPLICATION_RANDOMIZED_DELAY
    half = make_shifted_time(shortest.at, shortest.interval / 2)
    return make_on_calendar(shortest.model_copy(update={"at": half})), timedelta(0)


def make_shifted_time(at: str, delay: timedelta) -> str:
    """``01:30`` + 3 h → ``04:30`` (wrapping at midnight)."""
    hour, minute = (int(part) for part in at.split(":"))
    total = (hour * 60 + minute + int(delay.total_seconds() // 60)) % 1440
    return f"{total // 60:02d}:{total % 60:02d}"


def make_repository_init_script(
    name: str,
    root: str = REPOSITORY_ROOT,
    secrets: str = str(SECRET_DIRECTORY),
    owner: str | None = None,
) -> str:
    """Create the REST repository ``name`` served from this host, if it has no config yet.

    The store host is the one party that creates it: clients never ``restic init`` a shared
    repository (several first backups racing to do so leave one config and several master
    keys). restic runs as root, with the password file root alone reads, in a staging
    directory; the tree is then given to the server's user and moved in, config last, so
    the server never shows a half-made repository.
    """
    directory = f"{root}/{name}"
    staging = f"{root}/.init-{name}"
    owner = owner or f"egov-restic-{name}:egov-restic-{name}"
    return (
        f"test -e {directory}/config && exit 0; "
        f'if [ -n "$(ls -A {directory})" ]; then '
        f"echo '{directory} holds files but no config: look before anything is created "
        "over them' >&2; exit 1; fi; "
        f"rm -rf {staging} && "
        f"restic --no-cache --repo {staging} --password-file {secrets}/restic-{name} "
        f"init && chown -R {owner} {staging} && "
        f"for part in data index keys locks snapshots; do "
        f"if [ -e {staging}/$part ]; then mv {staging}/$part {directory}/; fi; done && "
        f"mv {staging}/config {directory}/config && rmdir {staging}"
    )


def make_backup_service() -> str:
    """The template unit ``egov-backup@.service``: one instance per dataset."""
    return _HEADER + (
        "[Unit]\n"
        "Description=egov backup of dataset %i\n"
        "After=network-online.target postgresql.service\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={AGENT_BINARY} agent backup --dataset %i\n" + STOP_BY_THE_AGENT + "Nice=10\n"
        "IOSchedulingClass=best-effort\n"
        "IOSchedulingPriority=7\n"
        "CacheDirectory=egov/restic\n"
    )


def make_timer(description: str, unit: str, on_calendar: str, delay: timedelta) -> str:
    """A timer starting ``unit`` on ``on_calendar``, persistent, with a randomized delay."""
    return _HEADER + (
        f"[Unit]\nDescription={description}\n\n"
        "[Timer]\n"
        f"OnCalendar={on_calendar}\n"
        f"RandomizedDelaySec={int(delay.total_seconds())}\n"
        "Persistent=true\n"
        f"Unit={unit}\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )


def make_agent_service(description: str, arguments: str) -> str:
    """A oneshot unit running ``egov agent <arguments>`` as root (replicate, verify)."""
    return _HEADER + (
        f"[Unit]\nDescription={description}\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\nType=oneshot\n"
        f"ExecStart={AGENT_BINARY} agent {arguments}\n"
        + STOP_BY_THE_AGENT
        + "CacheDirectory=egov/restic\n"
    )


def make_retention_service() -> str:
    """``egov-retention@.service``: as the repository's user, password via LoadCredential."""
    return _HEADER + (
        "[Unit]\nDescription=egov retention (forget --prune) of repository %i\n\n"
        "[Service]\nType=oneshot\n"
        "User=egov-restic-%i\nGroup=egov-restic-%i\n"
        f"LoadCredential=restic-password:{SECRET_DIRECTORY}/restic-%i\n"
        f"ExecStart={AGENT_BINARY} agent retention --repository %i "
        "--cache-dir /var/cache/egov-retention-%i\n"
        + STOP_BY_THE_AGENT
        + "CacheDirectory=egov-retention-%i\n"
        "UMask=0077\n"
    )


def make_s3_retention_service(name: str) -> str:
    """``egov-retention@<name>.service`` for an S3 repository (this instance's own file
    overrides the REST template): a transient user, the password and the prune key handed
    over by systemd (the agent's ``make_retention_repository_config`` reads them there)."""
    secret = f"{SECRET_DIRECTORY}/"
    return _HEADER + (
        f"[Unit]\nDescription=egov retention (forget --prune, version purge) of {name}\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\nType=oneshot\nDynamicUser=yes\n"
        f"LoadCredential=restic-password:{secret}{get_secret_file_name(name, 'password')}\n"
        "LoadCredential=s3-access-key:"
        f"{secret}{get_secret_file_name(name, 'prune_access_key')}\n"
        "LoadCredential=s3-secret-key:"
        f"{secret}{get_secret_file_name(name, 'prune_secret_key')}\n"
        f"ExecStart={AGENT_BINARY} agent retention --repository {name} "
        f"--cache-dir /var/cache/egov-retention-{name}\n"
        + STOP_BY_THE_AGENT
        + f"CacheDirectory=egov-retention-{name}\n"
        "UMask=0077\n"
    )


def make_host_secret_files(estate: Estate, names: set[str], retention: list[str]) -> dict[str, str]:
    """Every secret file this host needs: the clients' secrets of the repositories it backs
    up to or replicates (``names``), and for each repository whose retention it runs, the
    password and, for S3, the prune key (the only place the prune key goes)."""
    wanted: dict[str, str] = {}
    for name in sorted(names):
        wanted |= make_secret_files(estate, name, SECRET_DIRECTORY)
    for name in retention:
        s3 = estate.backup.repositories[name].kind is RepositoryKind.S3
        keys = RETENTION_SECRETS if s3 else CLIENT_SECRETS
        wanted |= make_secret_files(estate, name, SECRET_DIRECTORY, keys)
    return wanted


@deploy("backup")
def backup() -> None:
    """Apply the backup role's pieces this host needs (nothing on a host with none)."""
    context = get_context()
    estate, ref = context.estate, context.ref
    config = make_agent_config(estate, ref)
    if not (config.jobs or config.replication or config.retention or config.archives):
        return
    files.put(
        name="Agent configuration",
        src=as_file(json.dumps(config.model_dump(mode="json"), indent=1) + "\n"),
        dest=str(AGENT_CONFIG_PATH),
        mode="644",
    )
    clients = {name for name in config.repositories if "@" not in name}
    for path, reference in make_host_secret_files(estate, clients, config.retention).items():
        secret_file(name=f"Secret {path}", dest=path, content=read_secret(reference))
    # The REST repositories this host serves and clients write to; a copy target is created by
    # the replication, with the source's chunker parameters (or copies lose deduplication).
    copy_targets = set(estate.backup.replication[1:])
    for name in config.retention:
        if name in copy_targets or estate.backup.repositories[name].kind is RepositoryKind.S3:
            continue
        if host.get_fact(File, path=f"{REPOSITORY_ROOT}/{name}/config") is None:
            server.shell(
                name=f"Create repository {name}", commands=[make_repository_init_script(name)]
            )
    units: dict[str, str] = {}
    if config.jobs:
        units[BACKUP_UNIT_TEMPLATE] = make_backup_service()
        for job in config.jobs:
            schedule = estate.backup.datasets[job.dataset].schedule or estate.backup.schedule
            units[f"egov-backup@{job.dataset}.timer"] = make_timer(
                f"egov backup of dataset {job.dataset}",
                f"egov-backup@{job.dataset}.service",
                make_on_calendar(schedule),
                schedule.randomized_delay,
            )
    if config.replication and get_replication_host(estate) == ref:
        on_calendar, delay = make_replication_calendar(estate)
        units[REPLICATION_UNIT] = make_agent_service(
            "egov replication and catalog refresh", "replicate"
        )
        units[REPLICATION_TIMER] = make_timer(
            "egov replication", REPLICATION_UNIT, on_calendar, delay
        )
        units[VERIFY_UNIT] = make_agent_service("egov rolling repository check", "verify")
        units[VERIFY_TIMER] = make_timer(
            "egov verification", VERIFY_UNIT, f"*-*-* {VERIFY_AT}:00", timedelta(0)
        )
    if config.retention:
        units[RETENTION_UNIT_TEMPLATE] = make_retention_service()
        for name in config.retention:
            if estate.backup.repositories[name].kind is RepositoryKind.S3:
                units[make_retention_unit(name)] = make_s3_retention_service(name)
            units[make_retention_unit(name, "timer")] = make_timer(
                f"egov retention of {name}",
                make_retention_unit(name),
                f"*-*-* {RETENTION_AT}:00",
                timedelta(minutes=30),
            )
    written = {
        unit: files.put(
            name=f"Unit {unit}", src=as_file(text), dest=f"{UNIT_DIRECTORY}/{unit}", mode="644"
        )
        for unit, text in units.items()
    }
    # Reload and restart only when a unit file changed: a second deploy must change nothing.
    systemd.daemon_reload(name="Reload the units", _if=any_changed(*written.values()))
    for unit, put in written.items():
        if unit.endswith(".timer"):
            systemd.service(
                name=f"Restart {unit}",
                service=unit,
                running=True,
                restarted=True,
                _if=put.did_change,
            )
            systemd.service(name=f"Enable {unit}", service=unit, running=True, enabled=True)
