"""``egov backup status --archives``: per dataset with a WAL archive and per archive host, how
old the newest WAL and base backup are against their limits, and Barman's checks.

The control node reads each archive host's node_exporter (``/metrics`` on port 9100, open to
the control nodes as to the monitoring hosts) and keeps the ``dr_archive_*`` series that
``egov agent archive-metrics`` wrote there: the same facts the alerts judge, read where they
are made, so the answer does not depend on a Prometheus. A host that does not answer is a row
saying so; the others are still shown. The limits are ``archivestate``'s, the alerts' own;
``make_archive_status`` is pure.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from egov.backup.archivemetrics import parse_archive_series
from egov.backup.archivestate import (
    ServerState,
    get_active_archives,
    get_base_backup_limit,
    get_wal_limit,
)
from egov.backup.walarchive import ArchivedCluster
from egov.deploys.topology import NODE_EXPORTER_PORT
from egov.inventory.model import Estate

READ_TIMEOUT_SECONDS = 5.0
#: node_exporter's page is a few hundred kilobytes; the bound stops a misbehaving host.
MAX_METRICS_BYTES = 20_000_000


class ArchiveStatus(BaseModel):
    """One Barman server on one archive host, as its last collection saw it."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    site: str
    host: str
    server: str
    error: str | None = None
    collected_at: float | None = None
    collection_ok: bool | None = None
    wal_at: float | None = None
    wal_age_seconds: float | None = None
    wal_limit_seconds: float
    rpo_seconds: float
    wal_fresh: bool = False
    base_backup_at: float | None = None
    base_backup_age_seconds: float | None = None
    base_backup_limit_seconds: float
    base_backup_fresh: bool = False
    base_backups: int | None = None
    checks_ok: bool | None = None
    failing_checks: tuple[str, ...] = ()


def _age(at: float | None, now: float) -> float | None:
    return None if at is None else max(now - at, 0.0)


def make_archive_status(
    pairs: Sequence[ArchivedCluster],
    states: Mapping[str, Sequence[ServerState]],
    errors: Mapping[str, str],
    now: float,
) -> list[ArchiveStatus]:
    """One row per Barman server of ``pairs``: ``states`` are what each archive host's metrics
    held (by qualified host name), ``errors`` why a host could not be read. A server its host
    does not report (yet) has no ages and is fresh in nothing."""
    rows = []
    for pair in pairs:
        host = pair.archive_host.qualified_name
        wal_limit = get_wal_limit(pair.rpo).total_seconds()
        backup_limit = get_base_backup_limit(pair.schedule).total_seconds()
        found = [state for state in states.get(host, ()) if state.server == pair.server]
        base = ArchiveStatus(
            dataset=pair.dataset,
            site=pair.archive_host.site,
            host=host,
            server=pair.server,
            rpo_seconds=pair.rpo.total_seconds(),
            wal_limit_seconds=wal_limit,
            base_backup_limit_seconds=backup_limit,
        )
        if not found:
            error = errors.get(host) or "no dr_archive series for this server yet"
            rows.append(base.model_copy(update={"error": error}))
            continue
        state = found[0]
        wal_age = _age(state.last_wal_at, now)
        backup_age = _age(state.last_base_backup_at, now)
        rows.append(
            base.model_copy(
                update={
                    "collected_at": state.collected_at,
                    "collection_ok": not state.failed,
                    "wal_at": state.last_wal_at,
                    "wal_age_seconds": wal_age,
                    "wal_fresh": wal_age is not None and wal_age <= wal_limit,
                    "base_backup_at": state.last_base_backup_at,
                    "base_backup_age_seconds": backup_age,
                    "base_backup_fresh": backup_age is not None and backup_age <= backup_limit,
                    "base_backups": state.base_backups,
                    "checks_ok": (not state.failing_checks) if state.checks else None,
                    "failing_checks": state.failing_checks,
                }
            )
        )
    return rows


def get_metrics_url(pair: ArchivedCluster) -> str:
    """node_exporter's page on ``pair``'s archive host."""
    return f"http://{pair.archive_host.host.address}:{NODE_EXPORTER_PORT}/metrics"


def _read_url(url: str) -> str:
    with urllib.request.urlopen(url, timeout=READ_TIMEOUT_SECONDS) as response:  # noqa: S310
        data: bytes = response.read(MAX_METRICS_BYTES)
    return data.decode("utf-8", errors="replace")


def fetch_archive_states(
    urls: Mapping[str, str], read: Callable[[str], str] | None = None
) -> tuple[dict[str, list[ServerState]], dict[str, str]]:
    """Each host's archive series, read from its URL (with ``read``, by default over HTTP),
    and the hosts that could not be read (with why): ``urls`` maps a qualified host name to
    its node_exporter page."""
    read = read or _read_url
    states: dict[str, list[ServerState]] = {}
    errors: dict[str, str] = {}
    for host, url in urls.items():
        try:
            states[host] = parse_archive_series(read(url))
        except (OSError, urllib.error.URLError) as error:
            errors[host] = f"{url}: {getattr(error, 'reason', error)}"
        except ValueError as error:
            errors[host] = f"{url}: not a metrics page ({error})"
    return states, errors


def load_archive_status(
    estate: Estate, now: float, read: Callable[[str], str] | None = None
) -> list[ArchiveStatus]:
    """The archive rows of ``estate``'s active sites, from the archive hosts' metrics."""
    pairs = get_active_archives(estate)
    urls = {pair.archive_host.qualified_name: get_metrics_url(pair) for pair in pairs}
    states, errors = fetch_archive_states(urls, read)
    return make_archive_status(pairs, states, errors, now)
