"""The WAL archive on a host named in a dataset's ``archive.hosts``: Barman, pulling.

Per archived cluster a Barman server (``/etc/barman.d/<server>.conf``) streams WAL through its
own replication slot and takes base backups with ``pg_basebackup``. ``barman cron`` runs from
a systemd timer (Debian's cron entry needs a cron daemon the hosts do not run): it keeps
``receive-wal`` going, files the streamed segments and applies the retention. Base backups of
every server run from ``egov-barman-backup.timer`` on the archive's schedule;
``egov-archive-metrics.timer`` writes their state for node_exporter (``archivemetrics``). The
role's password is in barman's ``.pgpass`` (0600); nothing here is reachable from the database
host.

The primary's side (the ``egov_archive`` role, its grants, the client rules, ``archive_timeout``)
is in ``database.py``: it belongs to the cluster's own deploy.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import FactBase, deploy
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from egov.backup.walarchive import (
    BACKUP_UNIT,
    BARMAN_CONFIG_DIRECTORY,
    BARMAN_PASSFILE,
    BARMAN_USER,
    CRON_UNIT,
    RECEIVE_UNIT,
    get_host_archives,
    make_passfile,
    make_server_config,
)
from egov.deploys.backup import make_on_calendar, make_timer
from egov.deploys.context import get_context
from egov.deploys.packages import PACKAGES_BY_ROLE
from egov.deploys.render import as_file
from egov.deploys.secretfile import secret_file
from egov.hostlayout import AGENT_BINARY, UNIT_DIRECTORY
from egov.secrets import read_secret

_HEADER = "# Written by egov deploy; local edits are overwritten.\n"
#: How often ``barman cron`` runs: a restarted ``receive-wal`` and the filing of closed
#: segments wait at most this long, well inside any archive RPO (at least 10 s... 24 h).
CRON_SECONDS = 20
#: ``egov agent archive-metrics``, as root (it reads Barman's files and writes the textfile
#: directory), just after each ``barman cron`` has filed what it streamed.
METRICS_UNIT = "egov-archive-metrics"
METRICS_SECONDS = 20
#: postgresql-common's settings for new clusters: the archive host replays restores in
#: clusters of its own making, and runs no server of its own.
CREATECLUSTER_CONF = "/etc/postgresql-common/createcluster.conf"
NO_MAIN_CLUSTER = (
    "# Written by egov deploy: an archive host runs no PostgreSQL server of its own.\n"
    "create_main_cluster = false\n"
)


def make_cron_units(servers: list[str]) -> tuple[str, str]:
    """``egov-barman-cron`` service and timer: every 20 s, as barman, file the streamed
    segments of each server (in the foreground: a segment is filed when this returns), then
    ``barman cron`` (retention, and restarting what is missing).

    ``KillMode=process``: what cron starts in the background must outlive this oneshot, as
    under the cron daemon Barman is written for; stopping it halfway could leave a segment
    half filed."""
    archive = "".join(f"ExecStart=/usr/bin/barman -q archive-wal {server}\n" for server in servers)
    service = _HEADER + (
        "[Unit]\nDescription=egov: file streamed WAL, barman cron (retention)\n\n"
        "[Service]\nType=oneshot\n"
        f"User={BARMAN_USER}\nGroup={BARMAN_USER}\n"
        f"{archive}"
        "ExecStart=/usr/bin/barman -q cron\n"
        "KillMode=process\n"
    )
    timer = _HEADER + (
        "[Unit]\nDescription=egov: run barman cron often\n\n"
        "[Timer]\nOnBootSec=10s\n"
        f"OnUnitActiveSec={CRON_SECONDS}s\nAccuracySec=1s\n"
        f"Unit={CRON_UNIT}.service\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    return service, timer


def make_metrics_units() -> tuple[str, str]:
    """``egov-archive-metrics`` service and timer: the archive's textfile metrics every 20 s.

    A oneshot as root: the agent runs Barman's commands as barman itself (``runuser``) and
    writes node_exporter's textfile directory, which only root may."""
    service = _HEADER + (
        "[Unit]\nDescription=egov: the WAL archive's metrics for node_exporter\n"
        f"After={CRON_UNIT}.service\n\n"
        "[Service]\nType=oneshot\n"
        f"ExecStart={AGENT_BINARY} agent archive-metrics\n"
        "Nice=5\n"
    )
    timer = _HEADER + (
        "[Unit]\nDescription=egov: read the WAL archive's state often\n\n"
        "[Timer]\nOnBootSec=15s\n"
        f"OnUnitActiveSec={METRICS_SECONDS}s\nAccuracySec=1s\n"
        f"Unit={METRICS_UNIT}.service\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    return service, timer


def make_receive_wal_service() -> str:
    """``egov-barman-receive-wal@<server>.service``: the WAL stream, always on.

    ``barman cron`` would start ``receive-wal`` itself, but as a child of a oneshot unit that
    systemd stops (with its children) when cron returns; a unit of its own keeps it running and
    restarts it after a cut link. The slot is created first when missing (``create_slot =
    auto`` acts only through cron).

    The unit's main process is a loop that starts ``receive-wal`` again 5 s after it ends,
    whatever the reason, rather than systemd's ``Restart=``: in the restart delay ``barman
    cron`` finds the stream's lock free and starts a ``receive-wal`` of its own, which then
    holds the lock, and a unit restarted by systemd would fail on it again and again (seen on
    the lab: a deploy after a cut link found the unit restarting and started it). The loop
    waits until cron's stream ends and takes over; the unit stays active throughout."""
    return _HEADER + (
        "[Unit]\nDescription=egov: stream WAL of %i into the archive\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\n"
        f"User={BARMAN_USER}\nGroup={BARMAN_USER}\n"
        "ExecStartPre=-/usr/bin/barman -q receive-wal --create-slot %i\n"
        "ExecStart=/bin/sh -c 'while :; do /usr/bin/barman receive-wal %i; sleep 5; done'\n"
        "Restart=always\nRestartSec=5s\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def make_backup_service(servers: list[str]) -> str:
    """``egov-barman-backup.service``: a base backup of every server of the host, waiting for
    the WAL that makes it consistent to be archived (a backup without it restores nothing).

    Barman refuses a backup until its first WAL segment is filed (its "WAL archive" check,
    which ``barman check`` prints only while it fails);
    on a new archive that takes up to ``archive_timeout`` plus a cron interval, so the unit
    waits for it first (5 minutes at most)."""
    wait = "".join(
        f"ExecStartPre=/bin/sh -c 'n=0; while /usr/bin/barman check {server} | "
        # $$: systemd would expand $n itself
        'grep -q "WAL archive: FAILED"; do n=$$((n+1)); [ $$n -lt 60 ] || exit 1; sleep 5; '
        "done'\n"
        for server in servers
    )
    return _HEADER + (
        "[Unit]\nDescription=egov: base backups of the archived PostgreSQL clusters\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        "[Service]\nType=oneshot\n"
        f"User={BARMAN_USER}\nGroup={BARMAN_USER}\n"
        f"{wait}"
        "ExecStart=/usr/bin/barman -q backup --wait all\n"
        "Nice=10\nIOSchedulingClass=best-effort\nIOSchedulingPriority=7\n"
    )


class ArchiveBackups(FactBase[int]):
    """How many base backups the host's Barman servers hold (0 before Barman is installed),
    one more while a base backup is being taken (a deploy right after another must not start
    a second one)."""

    def command(self, servers: list[str]) -> str:
        listings = "; ".join(
            f"runuser -u {BARMAN_USER} -- barman list-backups --minimal {server}"
            for server in servers
        )
        running = (
            f'[ "$(systemctl show -p ActiveState --value {BACKUP_UNIT}.service)" = activating ]'
            " && echo running"
        )
        return f"({listings}; {running}) 2>/dev/null | grep -c . || true"

    def process(self, output: list[str]) -> int:
        return int(output[0]) if output and output[0].strip().isdigit() else 0


@deploy("archive")
def archive() -> None:
    """Barman servers for the clusters this host archives; nothing on other hosts."""
    context = get_context()
    estate, ref = context.estate, context.ref
    pairs = get_host_archives(estate, ref)
    if not pairs or estate.postgres is None:
        return
    backups = host.get_fact(ArchiveBackups, servers=[pair.server for pair in pairs])
    files.put(
        name="No default PostgreSQL cluster on an archive host",
        src=as_file(NO_MAIN_CLUSTER),
        dest=CREATECLUSTER_CONF,
        mode="644",
    )  # before the install: pyinfra's apt keeps an existing configuration file (confold)
    apt.packages(
        name="Install Barman and PostgreSQL's binaries",
        packages=list(PACKAGES_BY_ROLE["archive"]),
        no_recommends=True,
    )
    changed = [
        files.put(
            name=f"Barman server {pair.server}",
            src=as_file(
                make_server_config(
                    pair,
                    estate.postgres.version,
                    estate.backup.datasets[pair.dataset],
                    estate.backup.retention,
                )
            ),
            dest=f"{BARMAN_CONFIG_DIRECTORY}/{pair.server}.conf",
            mode="644",
        )
        for pair in pairs
    ]
    changed.append(
        secret_file(
            name="Barman's password for the archive role",
            dest=BARMAN_PASSFILE,
            content=make_passfile(pairs, read_secret),
            user=BARMAN_USER,
            group=BARMAN_USER,
            directory_mode="750",
        )
    )
    servers = [pair.server for pair in pairs]
    cron_service, cron_timer = make_cron_units(servers)
    metrics_service, metrics_timer = make_metrics_units()
    schedule = pairs[0].schedule
    units = {
        f"{CRON_UNIT}.service": cron_service,
        f"{CRON_UNIT}.timer": cron_timer,
        f"{METRICS_UNIT}.service": metrics_service,
        f"{METRICS_UNIT}.timer": metrics_timer,
        f"{BACKUP_UNIT}.service": make_backup_service(servers),
        f"{BACKUP_UNIT}.timer": make_timer(
            "egov: base backups of the archived clusters",
            f"{BACKUP_UNIT}.service",
            make_on_calendar(schedule),
            schedule.randomized_delay,
        ),
    }
    for name, text in units.items():
        changed.append(
            files.put(
                name=f"Unit {name}",
                src=as_file(text),
                dest=f"{UNIT_DIRECTORY}/{name}",
                mode="644",
            )
        )
    changed.append(
        files.put(
            name=f"Unit {RECEIVE_UNIT}@.service",
            src=as_file(make_receive_wal_service()),
            dest=f"{UNIT_DIRECTORY}/{RECEIVE_UNIT}@.service",
            mode="644",
        )
    )
    systemd.daemon_reload(name="Load the archive's units", _if=any_changed(*changed))
    for pair in pairs:
        systemd.service(
            name=f"Stream WAL of {pair.server}",
            service=f"{RECEIVE_UNIT}@{pair.server}.service",
            running=True,
            enabled=True,
        )
    for timer in (CRON_UNIT, BACKUP_UNIT, METRICS_UNIT):
        systemd.service(
            name=f"Run {timer}.timer", service=f"{timer}.timer", running=True, enabled=True
        )
    if not backups:
        # A new archive restores nothing until its first base backup: take it now, not at
        # the next scheduled night (in the background: the deploy does not wait for it).
        server.shell(
            name="First base backup of the new archive",
            commands=[f"systemctl start --no-block {BACKUP_UNIT}.service"],
        )
