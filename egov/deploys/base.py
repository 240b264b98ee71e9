"""The ``base`` role, on every host: identity, time, people, SSH, firewall, logs, metrics, agent.

Every change is detected from facts, so a second run changes nothing; services restart only
when a file they read changed.
"""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from egov.deploys import topology
from egov.deploys.agent import install_agent
from egov.deploys.context import DeployContext, get_context
from egov.deploys.facts import is_container
from egov.deploys.firewall import make_firewall_rules, render_nftables
from egov.deploys.packages import PACKAGES_BY_ROLE
from egov.deploys.render import as_file, render
from egov.hostlayout import (
    CHRONY_CONFIG,
    CHRONY_DEFAULTS,
    CHRONY_DROP_IN,
    CHRONY_UNIT,
    HOSTS_FILE,
    JOURNAL_DIRECTORY,
    JOURNALD_DROP_IN,
    JOURNALD_UNIT,
    NFTABLES_CONFIG,
    NFTABLES_UNIT,
    NODE_EXPORTER_DEFAULTS,
    NODE_EXPORTER_UNIT,
    SSH_UNIT,
    SSHD_DROP_IN,
    SUDOERS_FILE,
    SYSCTL_FILE,
    TEXTFILE_DIRECTORY,
    make_home_directory,
)

BASE_PACKAGES = list(PACKAGES_BY_ROLE["base"])
APT_CACHE_SECONDS = 86400


def make_chrony_conf(context: DeployContext) -> str:
    """chrony.conf: the site's monitoring host serves time; everyone else follows it."""
    estate, ref = context.estate, context.ref
    server_ref = topology.get_site_time_server(estate, ref.site)
    primary_server = topology.get_site_time_server(estate, estate.primary_site)
    serves = server_ref is None or (server_ref.site, server_ref.name) == (ref.site, ref.name)
    if serves:
        follows_primary = primary_server is not None and primary_server.site != ref.site
        upstream = str(primary_server.host.address) if follows_primary and primary_server else None
    else:
        upstream = str(server_ref.host.address) if server_ref else None
    return render(
        "base/chrony.conf.j2",
        serves_time=serves,
        upstream=upstream,
        networks=[str(network) for network in topology.get_estate_networks(estate)],
    )


def make_sudoers(context: DeployContext) -> str:
    """sudo for the inventory's administrators, who log in with keys and have no password."""
    lines = ["# Written by egov deploy; local edits are overwritten."]
    lines += [f"{admin.name} ALL=(ALL:ALL) NOPASSWD: ALL" for admin in context.estate.admins]
    return "\n".join(lines) + "\n"


@deploy("base")
def base() -> None:
    """Apply the base role to the current host."""
    context = get_context()
    estate, ref = context.estate, context.ref

    apt.packages(
        name="Install base packages",
        packages=BASE_PACKAGES,
        update=True,
        cache_time=APT_CACHE_SECONDS,
        no_recommends=True,
    )
    server.hostname(name="Set the hostname", hostname=ref.qualified_name)
    files.put(
        name="Write /etc/hosts",
        src=as_file(render("base/hosts.j2", estate=estate, ref=ref)),
        dest=HOSTS_FILE,
        mode="644",
    )
    server.timezone(name="Set the timezone", timezone=estate.timezone)

    _time(context)
    _people(context)
    _ssh()
    _sysctl(context)
    _firewall(context)
    _journal()
    _node_exporter()
    install_agent(context)


def _time(context: DeployContext) -> None:
    chrony_conf = files.put(
        name="Configure chrony",
        src=as_file(make_chrony_conf(context)),
        dest=CHRONY_CONFIG,
        mode="644",
    )
    # Containers may not set the clock: chrony then serves and tracks time without
    # steering it (-x), and its unit must not be skipped for lack of CAP_SYS_TIME.
    container = is_container()
    chrony_options = files.put(
        name="Set chrony's options",
        src=as_file(f'DAEMON_OPTS="-F 1{" -x" if container else ""}"\n'),
        dest=CHRONY_DEFAULTS,
        mode="644",
    )
    chrony_unit = files.put(
        name="Let chrony run where the clock belongs to the host",
        src=as_file("[Unit]\nConditionCapability=\n" if container else "[Unit]\n"),
        dest=CHRONY_DROP_IN,
        mode="644",
    )
    systemd.service(
        name="Run chrony",
        service=CHRONY_UNIT,
        running=True,
        enabled=True,
        restarted=True,
        daemon_reload=True,
        _if=any_changed(chrony_conf, chrony_options, chrony_unit),
    )
    systemd.service(name="Keep chrony running", service=CHRONY_UNIT, running=True, enabled=True)


def _people(context: DeployContext) -> None:
    for admin in context.estate.admins:
        server.user(
            name=f"Administrator {admin.name}",
            user=admin.name,
            shell="/bin/bash",
            home=make_home_directory(admin.name),
            create_home=True,
            public_keys=admin.ssh_keys,
            delete_keys=True,
        )
    files.put(
        name="Let administrators use sudo",
        src=as_file(make_sudoers(context)),
        dest=SUDOERS_FILE,
        mode="440",
    )


def _ssh() -> None:
    sshd_conf = files.put(
        name="Harden sshd: keys only",
        src=as_file(render("base/sshd.conf.j2")),
        dest=SSHD_DROP_IN,
        mode="644",
    )
    server.shell(
        name="Check the sshd configuration", commands=["sshd -t"], _if=sshd_conf.did_change
    )
    systemd.service(
        name="Reload sshd",
        service=SSH_UNIT,
        running=True,
        reloaded=True,
        _if=sshd_conf.did_change,
    )


def make_sysctl_conf(context: DeployContext) -> str:
    """Network hardening, plus the host's own ``data.sysctl`` settings (``net.*`` keys)."""
    extra = context.ref.host.data.get("sysctl") or {}
    return render("base/sysctl.conf.j2", extra=sorted(extra.items()))


def _sysctl(context: DeployContext) -> None:
    conf = files.put(
        name="Kernel network settings",
        src=as_file(make_sysctl_conf(context)),
        dest=SYSCTL_FILE,
        mode="644",
    )
    server.shell(
        name="Apply the kernel network settings",
        commands=["sysctl -q -p /etc/sysctl.d/90-egov.conf"],
        _if=conf.did_change,
    )


def _firewall(context: DeployContext) -> None:
    ruleset = render_nftables(
        make_firewall_rules(context.estate, context.ref), context.ref.qualified_name
    )
    nftables_conf = files.put(
        name="Write the firewall rules",
        src=as_file(ruleset),
        dest=NFTABLES_CONFIG,
        mode="755",
    )
    server.shell(
        name="Check the firewall rules",
        commands=["nft -c -f /etc/nftables.conf"],
        _if=nftables_conf.did_change,
    )
    systemd.service(
        name="Load the firewall rules",
        service=NFTABLES_UNIT,
        running=True,
        enabled=True,
        restarted=True,
        _if=nftables_conf.did_change,
    )
    systemd.service(
        name="Keep the firewall loaded", service=NFTABLES_UNIT, running=True, enabled=True
    )


def _journal() -> None:
    files.directory(
        name="Keep the journal on disk",
        path=JOURNAL_DIRECTORY,
        group="systemd-journal",
        mode="2755",
    )
    journald_conf = files.put(
        name="Configure journald",
        src=as_file(render("base/journald.conf.j2")),
        dest=JOURNALD_DROP_IN,
        mode="644",
    )
    systemd.service(
        name="Restart journald",
        service=JOURNALD_UNIT,
        restarted=True,
        _if=journald_conf.did_change,
    )


def _node_exporter() -> None:
    files.directory(
        name="Textfile directory for egov's metrics",
        path=TEXTFILE_DIRECTORY,
        mode="755",
    )
    defaults = files.put(
        name="Configure node_exporter",
        src=as_file(
            render(
                "base/node-exporter.default.j2",
                port=topology.NODE_EXPORTER_PORT,
                textfile_directory=TEXTFILE_DIRECTORY,
            )
        ),
        dest=NODE_EXPORTER_DEFAULTS,
        mode="644",
    )
    systemd.service(
        name="Restart node_exporter",
        service=NODE_EXPORTER_UNIT,
        restarted=True,
        _if=defaults.did_change,
    )
    systemd.service(
        name="Run node_exporter",
        service=NODE_EXPORTER_UNIT,
        running=True,
        enabled=True,
    )
