"""Where egov reaches the monitoring hosts' HTTP APIs from the control node.

Every monitoring host runs a Prometheus and an Alertmanager; a command asks the primary
site's first and the others after it, so it outlives the primary site. One function orders
them for every client (``health.py`` for Prometheus, ``alertmanager_api.py``).
"""

from __future__ import annotations

import urllib.parse

from egov.errors import InputError
from egov.inventory.model import Estate
from egov.monitoring import prometheus_config


def get_monitoring_urls(estate: Estate, port: int) -> list[str]:
    """``http://<address>:<port>`` of every monitoring host, the primary site's first.

    >>> # with the lab inventory and port 9093:
    >>> # ["http://10.213.1.40:9093", "http://10.213.3.40:9093"]
    """
    hosts = sorted(
        prometheus_config.get_monitoring_hosts(estate),
        key=lambda ref: ref.site != estate.primary_site,
    )
    return [f"http://{ref.host.address}:{port}" for ref in hosts]


def check_http_url(url: str, what: str, example: str) -> str:
    """``url`` without a trailing slash; raise InputError naming ``what`` (``Prometheus``)
    and an ``example`` unless it is an http(s) URL with a host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InputError(f"{url!r} is not {what} URL", f"give one like {example}")
    return url.rstrip("/")
