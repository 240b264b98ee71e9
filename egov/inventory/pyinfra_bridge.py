"""The inventory as a ``pyinfra.api.Inventory``: one host per server, groups per site/role/service.

Host data carries what the deploys need (site, roles, address, the estate's settings) and
the SSH settings with strict host-key checking: pyinfra's own default is "accept-new", which
would silently trust a replaced server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyinfra.api.inventory import Inventory

from egov.errors import InputError
from egov.inventory.addresses import is_placeholder
from egov.inventory.model import Estate, HostRef

STRICT_HOST_KEY_CHECKING = "yes"  # a string: pyinfra passes it to its policy by name
CONNECT_RETRIES = 2


def make_group_name(kind: str, name: str) -> str:
    """``("role", "db-replica")`` → ``"role_db_replica"``: a valid pyinfra group name."""
    return f"{kind}_{name.replace('-', '_')}"


def check_connectable(hosts: Iterable[HostRef]) -> None:
    """Refuse, before any connection, hosts whose address is an RFC 5737 placeholder."""
    placeholders = [ref for ref in hosts if is_placeholder(ref.host.address)]
    if placeholders:
        names = ", ".join(f"{ref.selector} ({ref.host.address})" for ref in placeholders)
        raise InputError(
            f"placeholder addresses, egov will not connect to them: {names}",
            "fill in the real addresses in the inventory (see the comments in camau.yaml)",
        )


def check_ssh_files(estate: Estate, hosts: Iterable[HostRef]) -> None:
    """Refuse, before any connection, a missing or readable SSH key or known_hosts file."""
    from pathlib import Path

    from egov.secrets import read_secret

    for ref in hosts:
        key = ref.host.ssh.key or estate.ssh.key
        if key is not None:
            read_secret(key)  # exists, non-empty, 0600: or an InputError naming the file
        known_hosts = ref.host.ssh.known_hosts or estate.ssh.known_hosts
        if known_hosts is not None and not Path(known_hosts).is_file():
            raise InputError(
                f"known_hosts file {known_hosts} (for {ref.selector}) does not exist",
                "collect the hosts' keys into it (ssh-keyscan, checked by hand); "
                "in the lab `egov lab up` writes it",
            )


def make_host_data(estate: Estate, ref: HostRef) -> dict[str, Any]:
    """The pyinfra data of one host: SSH settings, its place in the estate, its own data."""
    ssh = ref.host.ssh
    defaults = estate.ssh
    data: dict[str, Any] = dict(ref.host.data)
    data.update(
        {
            "ssh_hostname": str(ref.host.address),
            "ssh_port": ssh.port or defaults.port or 22,
            "ssh_user": ssh.user or defaults.user or "root",
            "ssh_strict_host_key_checking": STRICT_HOST_KEY_CHECKING,
            "ssh_connect_retries": CONNECT_RETRIES,
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
            "egov_estate": estate.name,
            "egov_environment": estate.environment.value,
            "egov_site": ref.site,
            "egov_site_role": estate.sites[ref.site].role.value,
            "egov_host": ref.name,
            "egov_qualified_name": ref.qualified_name,
            "egov_address": str(ref.host.address),
            "egov_roles": tuple(ref.host.roles),
            "egov_upstream": ref.host.upstream,
            "egov_timezone": estate.timezone,
        }
    )
    key = ssh.key or defaults.key
    if key is not None:
        data["ssh_key"] = get_key_path(key)
    known_hosts = ssh.known_hosts or defaults.known_hosts
    if known_hosts is not None:
        data["ssh_known_hosts_file"] = known_hosts
    return data


def get_key_path(reference: str) -> str:
    """The path of an SSH private key reference; pyinfra reads keys from files only."""
    kind, _, value = reference.partition(":")
    if kind != "file":
        raise InputError(
            "the SSH key must be a file: reference (pyinfra reads keys from files)",
            "write ssh.key: file:/etc/egov/secrets/deploy_ed25519",
        )
    return value


def make_pyinfra_inventory(
    estate: Estate,
    hosts: Iterable[HostRef] | None = None,
    global_data: Mapping[str, Any] | None = None,
) -> Inventory:
    """Build the pyinfra inventory of ``hosts`` (default: every host of the estate).

    Groups: ``site_<site>``, ``role_<role>`` and ``service_<service>``, names with dashes
    turned into underscores; ``global_data`` is shared by every host. Raise InputError for
    placeholder addresses or a non-file key.
    """
    selected = list(estate.iter_hosts() if hosts is None else hosts)
    check_connectable(selected)
    names = [(ref.qualified_name, make_host_data(estate, ref)) for ref in selected]
    groups: dict[str, list[str]] = {}
    for ref in selected:
        memberships = [make_group_name("site", ref.site)]
        memberships += [make_group_name("role", role) for role in ref.host.roles]
        for service_name, service in estate.services.items():
            placement = service.sites.get(ref.site)
            if placement is not None and (
                ref.name in placement.hosts or ref.name == placement.entrypoint
            ):
                memberships.append(make_group_name("service", service_name))
        for group in memberships:
            groups.setdefault(group, []).append(ref.qualified_name)
    group_arguments: dict[str, tuple[list[str], dict[str, Any]]] = {
        group: (members, {}) for group, members in groups.items()
    }
    return Inventory((names, dict(global_data or {})), **group_arguments)  # type: ignore[no-untyped-call]
