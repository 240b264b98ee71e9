"""Alerts on the WAL archive: each archive host's newest WAL and base backup against the
inventory's targets, and Barman's checks, from ``egov agent archive-metrics``'s series.

The series come from node_exporter on the archive host, so a Prometheus cut off from that host
(the link to its site cut) has no fresh sample: the age is taken from the last sample it did
get (``last_over_time`` over ``LOOKBACK``), so the alert fires there too, at the Prometheus of
the other site, instead of going quiet when the archive falls behind for that very reason. A
host gone for longer than ``LOOKBACK`` is ``HostDown``'s.

Each alert names the dataset, and the site, host and Barman server of the archive: the
Alertmanager routes on ``dataset`` and ``site``.
"""

from __future__ import annotations

from datetime import timedelta

from egov.backup.archivestate import NO_BACKUP_YET_CHECKS
from egov.inventory.fields import format_duration as _d
from egov.monitoring.alert import Alert, Rule, format_threshold, make_for, make_window
from egov.monitoring.targets import ArchiveTarget, MonitoringTargets

#: How far back the last sample of a host is looked for.
LOOKBACK = timedelta(hours=1)
FAILING_WINDOW = timedelta(minutes=5)
_BY = "max by (dataset, site, host, server)"
#: The check items whose failure means the archive is failing (the rules' and the dashboard's).
CHECKS_THAT_COUNT = f'dr_archive_check_ok{{check!~"{"|".join(sorted(NO_BACKUP_YET_CHECKS))}"}}'


def _newest(metric: str, target: ArchiveTarget) -> str:
    """The newest value of ``metric`` for ``target``'s server, as the rules read it."""
    selector = f'{metric}{{host="{target.host}", server="{target.server}"}}'
    return f"{_BY} (last_over_time({selector}[{_d(LOOKBACK)}]))"


def _subject(target: ArchiveTarget) -> dict[str, str]:
    return {
        "dataset": target.dataset,
        "site": target.site,
        "host": target.host,
        "server": target.server,
    }


def make_archive_rules(targets: MonitoringTargets) -> list[Rule]:
    """WalArchiveStale and BaseBackupStale per Barman server, WalArchiveFailing for all."""
    lab = targets.is_lab
    rules: list[Rule] = []
    for target in targets.archives:
        wal_limit = timedelta(seconds=target.wal_limit_seconds)
        rules.append(
            Alert(
                "WalArchiveStale",
                f"time() - {_newest('dr_archive_last_wal_timestamp_seconds', target)} > "
                f"{format_threshold(target.wal_limit_seconds)}",
                make_for(wal_limit, lab),
                "critical",
                _subject(target),
                {"limit": _d(wal_limit), "rpo": _d(timedelta(seconds=target.rpo_seconds))},
            )
        )
        backup_limit = timedelta(seconds=target.base_backup_limit_seconds)
        threshold = format_threshold(target.base_backup_limit_seconds)
        backup = _newest("dr_archive_last_base_backup_timestamp_seconds", target)
        first_wal = _newest("dr_archive_first_wal_timestamp_seconds", target)
        # No base backup at all is as stale as the archive is old: its oldest WAL (nothing is
        # removed from an archive without a backup).
        rules.append(
            Alert(
                "BaseBackupStale",
                f"time() - {backup} > {threshold} or "
                f"(time() - {first_wal} > {threshold} unless on (dataset, site, host, server) "
                f"{backup})",
                make_for(backup_limit, lab),
                "warning",
                _subject(target),
                {"limit": _d(backup_limit)},
            )
        )
    if targets.archives:
        rules.append(
            Alert(
                "WalArchiveFailing",
                f"min by (dataset, site, host, server) ({CHECKS_THAT_COUNT}) "
                "== 0 or min by (dataset, site, host, server) "
                "(dr_archive_collection_success) == 0",
                make_window(FAILING_WINDOW, lab),
                "critical",
            )
        )
    return rules
