"""The roles a host can carry, each implemented by a deploy in ``egov/deploys/``.

The inventory refuses any other role name: a typo would otherwise deploy nothing, silently.
"""

from __future__ import annotations

from types import MappingProxyType

ROLES = MappingProxyType(
    {
        "lb": "nginx reverse proxy and TLS in front of the services",
        "app": "the service runtime (the canary service in the lab)",
        "db": "PostgreSQL primary",
        "db-replica": "PostgreSQL streaming replica of its `upstream`, promotable",
        "storage": "file store and the site's restic REST repository (append-only)",
        "monitoring": "Prometheus, Alertmanager, blackbox exporter and the egov exporter",
        "objectstore": "S3-compatible object store (the lab's stand-in for VNPT's storage)",
    }
)
"""Role name → what it deploys. Every host also gets the implicit `base` role."""

LAB_ONLY_ROLES = frozenset({"objectstore"})
