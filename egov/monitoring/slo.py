"""Availability SLO rules: recording rules and multiwindow, multi-burn-rate alerts per service.

They follow the SRE Workbook (ch. 5): page when 2 % of the 30-day budget burns in 1 h (×14.4,
confirmed over 5 m) or 5 % in 6 h (×6, over 30 m); ticket when 10 % burns in 3 d (×1, over
6 h). The service counts as up when any site answers (the warm standby answers 503 until
promoted), so the SLI is ``max by (service) (probe_success)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from egov.inventory.fields import format_duration as _d
from egov.monitoring.alert import Alert, Record, Rule, format_threshold, make_window
from egov.monitoring.prometheus_config import PROBE_JOB_PREFIX
from egov.monitoring.targets import MonitoringTargets


@dataclass(frozen=True)
class BurnRateWindow:
    """One pair of the SRE Workbook's multiwindow alerts."""

    long: timedelta
    short: timedelta
    factor: float


PAGE_WINDOWS = (
    BurnRateWindow(timedelta(hours=1), timedelta(minutes=5), 14.4),
    BurnRateWindow(timedelta(hours=6), timedelta(minutes=30), 6.0),
)
TICKET_WINDOWS = (BurnRateWindow(timedelta(days=3), timedelta(hours=6), 1.0),)
#: The lab's burn-rate windows are the production ones divided by this.
LAB_WINDOW_DIVISOR = 6


def make_slo_rules(targets: MonitoringTargets, service: str, slo: float) -> list[Rule]:
    """Recording rules and burn-rate alerts of one service's availability SLO."""
    lab = targets.is_lab
    divisor = LAB_WINDOW_DIVISOR if lab else 1
    budget = 1 - slo
    subject = {"service": service}
    rules: list[Rule] = [
        Record(
            "service:probe_success:max",
            f'max by (service) (probe_success{{job="{PROBE_JOB_PREFIX}{service}"}})',
            subject,
        )
    ]
    windows = sorted(
        {
            window / divisor
            for pair in (*PAGE_WINDOWS, *TICKET_WINDOWS)
            for window in (pair.long, pair.short)
        }
    )
    for window in windows:
        selector = f'service:probe_success:max{{service="{service}"}}[{_d(window)}]'
        rules.append(
            Record(
                f"service:sli_error:ratio_rate{_d(window)}",
                f"1 - avg_over_time({selector})",
                subject,
            )
        )

    def condition(pairs: tuple[BurnRateWindow, ...]) -> str:
        parts = []
        for pair in pairs:
            threshold = format_threshold(pair.factor * budget)
            long, short = _d(pair.long / divisor), _d(pair.short / divisor)
            parts.append(
                f'(service:sli_error:ratio_rate{long}{{service="{service}"}} > {threshold} and '
                f'service:sli_error:ratio_rate{short}{{service="{service}"}} > {threshold})'
            )
        return " or ".join(parts)

    def values(pairs: tuple[BurnRateWindow, ...]) -> dict[str, str]:
        # The alert's value is the error ratio over the long window of the pair that fired.
        return {"slo": f"{slo:.2%}", "windows": "/".join(_d(p.long / divisor) for p in pairs)}

    rules.append(
        Alert(
            "ServiceErrorBudgetBurn",
            condition(PAGE_WINDOWS),
            make_window(timedelta(minutes=2), lab),
            "critical",
            subject,
            values(PAGE_WINDOWS),
        )
    )
    rules.append(
        Alert(
            "ServiceErrorBudgetBurnSlow",
            condition(TICKET_WINDOWS),
            make_window(timedelta(minutes=15), lab),
            "warning",
            subject,
            values(TICKET_WINDOWS),
        )
    )
    return rules
