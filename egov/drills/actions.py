"""The actions a scenario may run: lab faults, PostgreSQL promotion, fencing, re-seeding and
switchover (a test's isolated copies are in ``testcopy.py``, restoring and damaging file
stores in ``filestore.py``).

Every action is safe to run twice (a rollback may repeat after ``egov drill recover``): it
checks the state first and does only what is missing.
"""

from __future__ import annotations

import shlex
import time

from egov.deploys.database import (
    make_clone_commands,
    make_slot_name,
)
from egov.deploys.topology import POSTGRES_PORT
from egov.drills.activity import Arguments, register
from egov.drills.context import DrillContext
from egov.errors import DrillError
from egov.hostlayout import (
    DRILL_PASSFILE,
    make_cluster_paths,
)
from egov.inventory.derive import get_chain_replicas, get_replication_root
from egov.inventory.fields import Name
from egov.inventory.model import HostRef

POLL_SECONDS = 1.0


class SiteArguments(Arguments):
    site: Name


class PowerArguments(Arguments):
    site: Name | None = None
    host: str | None = None  # a machine name such as primary-db-01


class DatabaseArguments(Arguments):
    site: Name
    host: Name | None = None  # a database host at ``site`` (default: the chain's first there)


class ReseedArguments(Arguments):
    site: Name
    source: Name
    host: Name | None = None  # the host to re-seed at ``site`` (default: the chain's first)
    source_host: Name | None = None  # the primary to clone, at ``source``


class SwitchoverArguments(Arguments):
    source: Name
    target: Name
    source_host: Name | None = None
    target_host: Name | None = None


# --- lab faults ------------------------------------------------------------------------


@register("action", "lab-power-off", PowerArguments, lab_only=True)
def power_off(context: DrillContext, arguments: PowerArguments) -> str:
    """Cut the power of a lab site or host (like a pulled plug)."""
    from egov.lab import faults

    spec = context.require_lab("powering off")
    if arguments.host:
        faults.power_off_host(spec, arguments.host)
        return f"{arguments.host} powered off"
    if not arguments.site:
        raise DrillError("lab-power-off needs `site:` or `host:`")
    faults.power_off_site(spec, arguments.site)
    return f"every host of {arguments.site} powered off"


@register("action", "restore-site", PowerArguments, lab_only=True)
def restore_site(context: DrillContext, arguments: PowerArguments) -> str:
    """Power a lab site (or host) back on; its database hosts come back fenced when another
    member of their chain leads now (masked before they boot: no moment as a second primary
    for the applications to write to, as production's instruction says)."""
    from egov.lab import faults

    spec = context.require_lab("powering on")
    if arguments.host:
        site = arguments.host.split("-", 1)[0]
    elif arguments.site:
        site = arguments.site
    else:
        raise DrillError("restore-site needs `site:` or `host:`")
    returning = _returning_to_fence(context, site, arguments.host)
    assert context.estate.postgres is not None
    _, _, unit = make_cluster_paths(context.estate.postgres.version)
    lines = []
    for ref in returning:
        if not faults.is_powered_on(spec, ref.qualified_name):
            faults.mask_units_while_off(spec, ref.qualified_name, [unit])
            lines.append(f"{ref.selector} comes back fenced (PostgreSQL masked)")
    if arguments.host:
        faults.power_on_host(spec, arguments.host)
    else:
        faults.power_on_site(spec, site)
    lines.insert(0, f"{arguments.host or arguments.site} powered on")
    for ref in returning:
        if _is_primary(context, ref):  # it ran all along: a second primary, fence it now
            lines.append(_fence(context, ref))
    return "; ".join(lines)


def _returning_to_fence(context: DrillContext, site: str, host: str | None) -> list[HostRef]:
    """The database hosts powered on at ``site`` (or ``host``) whose chain another member
    leads now: they must not come back as primaries."""
    returning_all = []
    for root_name in context.get_database_roots():
        members = _chain(context, root_name)
        returning = [
            ref
            for ref in members
            if ref.site == site and (host is None or ref.qualified_name == host)
        ]
        others = [ref for ref in members if ref not in returning]
        if any(_is_primary(context, ref) for ref in others):
            returning_all += returning
    return returning_all


@register("action", "lab-cut-link", SiteArguments, lab_only=True)
def cut_link(context: DrillContext, arguments: SiteArguments) -> str:
    """Cut a lab site's WAN link."""
    from egov.lab import faults

    faults.cut_link(context.require_lab("cutting a link"), arguments.site)
    return f"link of {arguments.site} cut"


@register("action", "lab-restore-link", SiteArguments, lab_only=True)
def restore_link(context: DrillContext, arguments: SiteArguments) -> str:
    """Restore a lab site's WAN link."""
    from egov.lab import faults

    faults.restore_link(context.require_lab("restoring a link"), arguments.site)
    return f"link of {arguments.site} restored"


# --- PostgreSQL ------------------------------------------------------------------------


@register("action", "promote-database", DatabaseArguments)
def promote_database(context: DrillContext, arguments: DatabaseArguments) -> str:
    """Promote the site's replica to primary (pg_promote); nothing if it already is one."""
    lines = []
    for root in context.get_database_roots():
        ref = context.get_database_host(arguments.site, root, arguments.host)
        if _is_primary(context, ref):
            lines.append(f"{ref.selector} is already a primary")
            continue
        _promote(context, ref)
        lines.append(f"{ref.selector} promoted")
    return "; ".join(lines)


@register("action", "fence-database", DatabaseArguments)
def fence_database(context: DrillContext, arguments: DatabaseArguments) -> str:
    """Stop and disable PostgreSQL on the site's database hosts, or one (no second primary)."""
    lines = []
    for root in context.get_database_roots():
        for ref in _chain(context, root):
            if ref.site == arguments.site and arguments.host in (None, ref.name):
                lines.append(_fence(context, ref))
    return "; ".join(lines)


@register("action", "reseed-database", ReseedArguments)
def reseed_database(context: DrillContext, arguments: ReseedArguments) -> str:
    """Replace a database host's data by a fresh clone of ``source``'s primary, streaming."""
    assert context.estate.postgres is not None
    _, data_dir, unit = make_cluster_paths(context.estate.postgres.version)
    lines = []
    for root in context.get_database_roots():
        upstream = context.get_database_host(arguments.source, root, arguments.source_host)
        target = context.get_database_host(arguments.site, root, arguments.host)
        if not _is_primary(context, upstream):
            raise DrillError(f"{upstream.selector} is not a primary: nothing to clone from")
        if target == upstream:
            raise DrillError(f"{target.selector} cannot be re-seeded from itself")
        slot = make_slot_name(target)
        context.remote.psql(upstream, _make_slot_sql(slot))
        environment = _write_passfile(context, target, upstream)
        commands = make_clone_commands(data_dir, unit, str(upstream.host.address), slot)
        # a fenced host's cluster is masked (_fence): unmasked only now that it follows
        script = "set -e\n" + "\n".join(
            [f"systemctl unmask {unit}", *environment, *commands, f"systemctl enable {unit}"]
        )
        context.remote.run(target, script, timeout_seconds=600)
        _wait_streaming(context, upstream, slot)
        lines.append(f"{target.selector} re-seeded from {upstream.selector}, streaming")
    return "; ".join(lines)


@register("action", "switchover-database", SwitchoverArguments)
def switchover_database(context: DrillContext, arguments: SwitchoverArguments) -> str:
    """Planned: stop the primary at ``source`` cleanly, promote ``target``'s replica."""
    lines = []
    for root in context.get_database_roots():
        source = context.get_database_host(arguments.source, root, arguments.source_host)
        target = context.get_database_host(arguments.target, root, arguments.target_host)
        if _is_primary(context, target) and not _is_primary(context, source):
            lines.append(f"{target.selector} already leads")
            continue
        # fencing stops it cleanly: every WAL record reaches the streaming replica first
        lines.append(_fence(context, source))
        _promote(context, target)
        for member in _chain(context, root):
            if member != target:
                context.remote.psql(target, _make_slot_sql(make_slot_name(member)))
        # a primary streams from nobody: drop what its time as a replica left behind
        context.remote.psql(
            target,
            "ALTER SYSTEM RESET primary_conninfo;\nALTER SYSTEM RESET primary_slot_name;\n"
            "SELECT pg_reload_conf()",
        )
        lines.append(f"{target.selector} promoted")
    return "; ".join(lines)


@register("action", "forget-drill-credentials", SiteArguments)
def forget_drill_credentials(context: DrillContext, arguments: SiteArguments) -> str:
    """Remove the temporary replication password file a re-seed left on the site's hosts."""
    for root in context.get_database_roots():
        for ref in _chain(context, root):
            if ref.site == arguments.site:
                context.remote.run(ref, f"rm -f {DRILL_PASSFILE}")
    return f"no drill credentials left at {arguments.site}"


# --- helpers ---------------------------------------------------------------------------


def _chain(context: DrillContext, root_name: str) -> list[HostRef]:
    root = context.estate.find_host(context.estate.primary_site, root_name)
    if root is None:
        raise DrillError(f"no database host {root_name} at the primary site")
    root = get_replication_root(context.estate, root)
    return [root, *get_chain_replicas(context.estate, root)]


def _is_primary(context: DrillContext, ref: HostRef) -> bool:
    try:
        return context.remote.psql(ref, "SELECT pg_is_in_recovery()", timeout=20) == "f"
    except DrillError:
        return False  # down or unreachable: not leading anything


def _promote(context: DrillContext, ref: HostRef) -> None:
    answer = context.remote.psql(ref, "SELECT pg_promote(true, 60)", timeout=90)
    if answer != "t":
        raise DrillError(f"{ref.selector} did not finish its promotion within 60 s")


def _fence(context: DrillContext, ref: HostRef) -> str:
    assert context.estate.postgres is not None
    _, _, unit = make_cluster_paths(context.estate.postgres.version)
    # masked, not only disabled: Debian's postgresql-generator starts every cluster whose
    # start.conf says auto at boot, so a disabled old primary would lead again after a reboot
    context.remote.run(ref, f"systemctl mask --now {unit}", timeout_seconds=120)
    return f"{ref.selector} fenced (PostgreSQL stopped and masked)"


def _make_slot_sql(slot: str) -> str:
    # slot names come from make_slot_name over validated host names: [a-z0-9_] only
    create = f"SELECT pg_create_physical_replication_slot('{slot}')"
    return (
        f"{create} WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '{slot}')"
    )


def _write_passfile(context: DrillContext, target: HostRef, upstream: HostRef) -> list[str]:
    """Shell lines pointing pg_basebackup at a password file for ``upstream``.

    A replica's own upstream is in the .pgpass its deploy wrote; any other (a primary
    re-seeded from the recovery site) gets a drill password file, written through stdin.
    """
    from egov.secrets import read_secret

    if context.estate.find_upstream(target) == upstream:
        return []
    assert context.estate.postgres is not None
    password = read_secret(context.estate.postgres.replication_password)
    line = f"{upstream.host.address}:{POSTGRES_PORT}:*:replicator:{password}\n"
    context.remote.run(
        target,
        f"umask 077; cat > {DRILL_PASSFILE}; chown postgres:postgres {DRILL_PASSFILE}",
        input_text=line,
    )
    return [f"export PGPASSFILE={DRILL_PASSFILE}"]


def _wait_streaming(context: DrillContext, upstream: HostRef, slot: str) -> None:
    deadline = time.monotonic() + 120
    sql = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"  # noqa: S608
    while time.monotonic() < deadline:
        if context.remote.psql(upstream, sql) == "t":
            return
        time.sleep(POLL_SECONDS)
    raise DrillError(f"the clone does not stream from {upstream.selector} (slot {slot})")


def _quote(text: str) -> str:
    return shlex.quote(text)
