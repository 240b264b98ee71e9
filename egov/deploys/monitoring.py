"""The ``monitoring`` role: Prometheus, Alertmanager, the blackbox and egov exporters.

The configurations come from ``egov.monitoring.prometheus_config``; the daemons' flags go in
Debian's ``/etc/default/*`` files, which their units read as ``$ARGS``. A changed flag
restarts a daemon; a changed configuration is checked with the daemon's own tool, then
reloaded (SIGHUP via ``systemctl reload``), so Prometheus keeps its in-memory state and the
Alertmanagers their silences.

Alertmanager's configuration (``egov.monitoring.alertmanager_config``) may hold a webhook URL
or a Telegram token, and names the files holding the relay's password and the webhooks'
tokens: all of them live in ``/etc/prometheus/egov-alerting`` (0750 root:prometheus, files
0640), written by digest and never diffed into a log. The notification templates go to
Debian's template directory; Alertmanager runs with ``TZ`` set to the estate's timezone, so
the times in its messages are local.

The egov alert rules (``egov.monitoring.rules``) go to ``/etc/prometheus/rules/egov.yml``,
checked with ``promtool check rules`` before Prometheus reloads them. The egov exporter runs
from the agent venv as ``egov-exporter.service`` (its own user, reading the state directory
through the ``egov-state`` group), on the host's address, from a targets file derived from the
inventory; deployed without a wheelhouse, the exporter is left as it is.

Prometheus and Alertmanager listen on every address (the firewall lets only the monitoring
hosts and control nodes in); the blackbox exporter listens on loopback, as only its own
Prometheus asks it to probe. The Alertmanagers of all monitoring hosts form one cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from egov.deploys import topology
from egov.deploys.agent import get_agent_venv, get_wheelhouse_digest
from egov.deploys.context import DeployContext, get_context
from egov.deploys.facts import FileMode
from egov.deploys.packages import PACKAGES_BY_ROLE
from egov.deploys.render import as_file, render
from egov.deploys.secretfile import secret_file
from egov.hostlayout import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_DEFAULTS,
    ALERTMANAGER_UNIT,
    BLACKBOX_CONFIG,
    BLACKBOX_DEFAULTS,
    BLACKBOX_UNIT,
    CONFIG_DIRECTORY,
    EXPORTER_UNIT,
    MONITORING_TARGETS_FILE,
    NOLOGIN_SHELL,
    PROMETHEUS_CONFIG,
    PROMETHEUS_DEFAULTS,
    PROMETHEUS_UNIT,
    STATE_DIRECTORY,
    UNIT_DIRECTORY,
)
from egov.inventory.model import Estate, HostRef
from egov.monitoring import alertmanager_config, prometheus_config, rules
from egov.monitoring.targets import make_targets
from egov.secrets import read_secret

RETENTION_TIME = "15d"
ALERTING_PATHS = alertmanager_config.MONITORING_HOST_PATHS
ALERTMANAGER_GROUP = "prometheus"  # Debian's prometheus-alertmanager runs as prometheus
RULES_FILE = f"{prometheus_config.RULES_DIRECTORY}/{rules.RULES_FILE_NAME}"
TARGETS_FILE = MONITORING_TARGETS_FILE
STATE_DIR = STATE_DIRECTORY
STATE_GROUP = "egov-state"
EXPORTER_USER = "egov-exporter"


@dataclass(frozen=True)
class Daemon:
    """One Debian-packaged daemon: its unit, its files, and how to check its configuration."""

    title: str
    unit: str
    defaults: str
    config: str
    check: str


PROMETHEUS = Daemon(
    "Prometheus",
    PROMETHEUS_UNIT,
    PROMETHEUS_DEFAULTS,
    PROMETHEUS_CONFIG,
    f"promtool check config {PROMETHEUS_CONFIG}",
)
ALERTMANAGER = Daemon(
    "Alertmanager",
    ALERTMANAGER_UNIT,
    ALERTMANAGER_DEFAULTS,
    ALERTMANAGER_CONFIG,
    f"amtool check-config {ALERTMANAGER_CONFIG}",
)
BLACKBOX = Daemon(
    "blackbox exporter",
    BLACKBOX_UNIT,
    BLACKBOX_DEFAULTS,
    BLACKBOX_CONFIG,
    f"prometheus-blackbox-exporter --config.check --config.file={BLACKBOX_CONFIG}",
)


def make_prometheus_arguments() -> list[str]:
    """Prometheus's flags: Debian's paths, a modest retention, every address."""
    return [
        f"--config.file={PROMETHEUS_CONFIG}",
        "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
        f"--storage.tsdb.retention.time={RETENTION_TIME}",
        f"--web.listen-address=0.0.0.0:{topology.PROMETHEUS_PORT}",
    ]


def make_alertmanager_arguments(estate: Estate, ref: HostRef) -> list[str]:
    """Alertmanager's flags: clustered with every other monitoring host, if there is one.

    The cluster listens and advertises on the host's own address (the peers' only way in);
    without peers clustering is off (an empty listen address).
    """
    peers = [
        other
        for other in prometheus_config.get_monitoring_hosts(estate)
        if (other.site, other.name) != (ref.site, ref.name)
    ]
    arguments = [
        f"--config.file={ALERTMANAGER_CONFIG}",
        "--storage.path=/var/lib/prometheus/alertmanager/",
        f"--web.listen-address=:{topology.ALERTMANAGER_PORT}",
    ]
    if not peers:
        return [*arguments, "--cluster.listen-address="]
    own = f"{ref.host.address}:{topology.ALERTMANAGER_CLUSTER_PORT}"
    arguments += [f"--cluster.listen-address={own}", f"--cluster.advertise-address={own}"]
    arguments += [
        f"--cluster.peer={peer.host.address}:{topology.ALERTMANAGER_CLUSTER_PORT}" for peer in peers
    ]
    return arguments


def make_blackbox_arguments() -> list[str]:
    """The blackbox exporter's flags: loopback only, where its Prometheus reaches it."""
    return [
        f"--config.file={BLACKBOX_CONFIG}",
        f"--web.listen-address={prometheus_config.BLACKBOX_ADDRESS}",
    ]


def make_exporter_unit(context: DeployContext, egov: str) -> str:
    """The egov exporter's unit: ``egov`` serving on the host's own address."""
    return render(
        "monitoring/egov-exporter.service.j2",
        user=EXPORTER_USER,
        state_group=STATE_GROUP,
        state_dir=STATE_DIR,
        egov=egov,
        address=str(context.ref.host.address),
        port=topology.EGOV_EXPORTER_PORT,
        targets=TARGETS_FILE,
    )


def make_defaults_file(
    daemon: Daemon, arguments: list[str], environment: Mapping[str, str] | None = None
) -> str:
    """The ``/etc/default`` file giving ``daemon`` its ``arguments`` and ``environment``."""
    return render(
        "monitoring/default.j2",
        title=daemon.title,
        arguments=arguments,
        environment=dict(environment or {}),
    )


@deploy("monitoring")
def monitoring() -> None:
    """Apply the monitoring role to the current host."""
    context = get_context()
    estate, ref = context.estate, context.ref
    apt.packages(
        name="Install Prometheus, Alertmanager and the blackbox exporter",
        packages=list(PACKAGES_BY_ROLE["monitoring"]),
        no_recommends=True,
    )
    files.directory(name="Rules directory", path=prometheus_config.RULES_DIRECTORY, mode="755")
    _run(
        BLACKBOX,
        make_blackbox_arguments(),
        prometheus_config.to_yaml(prometheus_config.build_blackbox_config(estate), "blackbox"),
    )
    templates = _alerting_files(estate)
    _run(
        ALERTMANAGER,
        make_alertmanager_arguments(estate, ref),
        alertmanager_config.render_alertmanager_config(estate, read_secret, ALERTING_PATHS),
        environment={"TZ": estate.timezone},
        private=True,
        also_changed=(templates,),
    )
    _run(
        PROMETHEUS,
        make_prometheus_arguments(),
        prometheus_config.to_yaml(
            prometheus_config.build_prometheus_config(estate, ref), "prometheus"
        ),
    )
    targets = make_targets(estate)
    rules_file = files.put(
        name="egov alert rules",
        src=as_file(rules.render_rules(targets, estate.alerting.language)),
        dest=RULES_FILE,
        mode="644",
    )
    server.shell(
        name="Check the egov alert rules",
        commands=[f"promtool check rules {RULES_FILE}"],
        _if=rules_file.did_change,
    )
    systemd.service(
        name="Reload Prometheus for the rules",
        service=PROMETHEUS.unit,
        reloaded=True,
        _if=rules_file.did_change,
    )
    _exporter(context, targets.to_json())


def _exporter(context: DeployContext, targets_json: str) -> None:
    """Run the egov exporter from the agent venv, reading the state directory."""
    if context.wheelhouse is None:
        host.noop("no wheelhouse given: the egov exporter is left as it is")
        return
    venv = get_agent_venv(get_wheelhouse_digest(context.wheelhouse))
    server.group(name="State group", group=STATE_GROUP, system=True)
    server.group(name="Exporter group", group=EXPORTER_USER, system=True)
    server.user(
        name="Exporter user",
        user=EXPORTER_USER,
        group=EXPORTER_USER,
        groups=[STATE_GROUP],
        system=True,
        shell=NOLOGIN_SHELL,
        home="/nonexistent",
        ensure_home=False,
    )
    # setgid: records written below by any job inherit the group the exporter reads through
    files.directory(name="State directory", path=STATE_DIR, group=STATE_GROUP, recursive=False)
    # Not files.directory's mode=: it never sees 2750 as already applied and re-applies it on
    # every run. Set the mode (setgid) only when the directory lacks it.
    if host.get_fact(FileMode, path=STATE_DIR) != "2750":
        server.shell(name="State directory keeps its group", commands=[f"chmod 2750 {STATE_DIR}"])
    files.directory(name="egov configuration directory", path=CONFIG_DIRECTORY, mode="755")
    targets = files.put(
        name="Monitoring targets", src=as_file(targets_json), dest=TARGETS_FILE, mode="644"
    )
    unit = files.put(
        name="egov exporter unit",
        src=as_file(make_exporter_unit(context, f"{venv}/bin/egov")),
        dest=f"{UNIT_DIRECTORY}/{EXPORTER_UNIT}",
        mode="644",
    )
    systemd.service(
        name="Restart the egov exporter",
        service=EXPORTER_UNIT,
        running=True,
        restarted=True,
        daemon_reload=True,
        _if=any_changed(targets, unit),
    )
    systemd.service(name="Run the egov exporter", service=EXPORTER_UNIT, running=True, enabled=True)


def _alerting_files(estate: Estate) -> OperationMeta:
    """The private directory, the secret files Alertmanager reads, and the notification
    templates; returns the templates' operation (a change needs a reload)."""
    files.directory(
        name="Alerting directory",
        path=ALERTING_PATHS.private_directory,
        user="root",
        group=ALERTMANAGER_GROUP,
        mode="750",
    )
    for purpose, secret in alertmanager_config.make_secret_files(estate, ALERTING_PATHS).items():
        secret_file(
            name=f"Alerting secret ({purpose})",
            dest=secret.path,
            content=read_secret(secret.reference),
            group=ALERTMANAGER_GROUP,
            mode="640",
        )
    files.directory(
        name="Alertmanager templates directory", path=ALERTING_PATHS.template_directory, mode="755"
    )
    templates: OperationMeta = files.put(
        name="Alertmanager notification templates",
        src=as_file(alertmanager_config.get_notification_templates()),
        dest=ALERTING_PATHS.template_file,
        mode="644",
    )
    return templates


def _run(
    daemon: Daemon,
    arguments: list[str],
    config_text: str,
    *,
    environment: Mapping[str, str] | None = None,
    private: bool = False,
    also_changed: tuple[OperationMeta, ...] = (),
) -> None:
    """Write a daemon's flags and configuration; restart, reload or just keep it running.

    A ``private`` configuration (it may hold secrets) is 0640 root and the daemon's group,
    compared by digest and never diffed; ``also_changed`` are files the configuration loads
    (templates): a change to them is checked and reloaded like the configuration's.
    """
    defaults = files.put(
        name=f"{daemon.title} flags",
        src=as_file(make_defaults_file(daemon, arguments, environment)),
        dest=daemon.defaults,
        mode="644",
    )
    if private:
        config = secret_file(
            name=f"{daemon.title} configuration",
            dest=daemon.config,
            content=config_text,
            group=ALERTMANAGER_GROUP,
            mode="640",
        )
    else:
        config = files.put(
            name=f"{daemon.title} configuration",
            src=as_file(config_text),
            dest=daemon.config,
            mode="644",
        )
    changed = any_changed(config, *also_changed)
    server.shell(
        name=f"Check the {daemon.title} configuration",
        commands=[daemon.check],
        _if=changed,
    )
    systemd.service(
        name=f"Restart {daemon.title}",
        service=daemon.unit,
        running=True,
        enabled=True,
        restarted=True,
        _if=defaults.did_change,
    )
    systemd.service(
        name=f"Reload {daemon.title}",
        service=daemon.unit,
        reloaded=True,
        _if=_only_second_changed(defaults, changed),
    )
    systemd.service(
        name=f"Keep {daemon.title} running", service=daemon.unit, running=True, enabled=True
    )


def _only_second_changed(first: OperationMeta, second: Callable[[], bool]) -> Callable[[], bool]:
    # A restart (first changed) already read the new configuration: reloading would be noise.
    return lambda: second() and not first.did_change()
