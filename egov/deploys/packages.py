"""Every Debian package a deploy installs, by role: the lab's local apt repository holds them.

Offline hosts (the lab's, a closed government network's) install only from a local mirror, so
the mirror must hold exactly what the deploys ask for; both read this one list.
"""

from __future__ import annotations

from types import MappingProxyType

PACKAGES_BY_ROLE = MappingProxyType(
    {
        "base": (
            "chrony",
            "nftables",
            "prometheus-node-exporter",
            "python3-venv",
            "sudo",
            "tzdata",
            "ca-certificates",
            "restic",
        ),
        "lb": ("nginx", "openssl"),
        "app": (),
        "db": ("postgresql-15", "postgresql-client-15", "prometheus-postgres-exporter"),
        "db-replica": ("postgresql-15", "postgresql-client-15", "prometheus-postgres-exporter"),
        "storage": ("rclone", "apache2-utils"),
        # Not a role: what a host named in a dataset's `archive.hosts` gets. Barman pulls WAL
        # and base backups; a point-in-time restore replays them here with PostgreSQL's own
        # binaries, so the server package comes too (its default cluster is not created).
        "archive": ("barman", "barman-cli", "postgresql-15", "postgresql-client-15"),
        "objectstore": (),
        "monitoring": (
            # restore tests of database dumps load them into a throwaway cluster here
            "postgresql-15",
            "prometheus",
            "prometheus-alertmanager",
            "prometheus-blackbox-exporter",
        ),
    }
)


def get_all_packages() -> tuple[str, ...]:
    """Every package of every role, sorted, without repeats."""
    return tuple(sorted({name for names in PACKAGES_BY_ROLE.values() for name in names}))
