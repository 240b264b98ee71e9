"""The drill report's two inline SVG charts: the timeline, and RTO/RPO against the targets.

Pure and hand-written like the backup window's chart (whose ``make_bar_chart`` draws the
timeline): no JavaScript, no plotting library, every text escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import NamedTuple

from egov.backup.chart import ChartBar, ChartMarker, make_bar_chart
from egov.drills.i18n import format_duration, translate_value
from egov.drills.summary import DrillSummary, ServiceMeasurement, StepResult

STATUS_COLOURS = {
    "succeeded": "#27ae60",
    "failed": "#c0392b",
    "timed-out": "#d35400",
    "skipped": "#95a5a6",
    "started": "#f39c12",
}
OTHER_COLOUR = "#7f8c8d"
WITHIN_COLOUR = "#27ae60"
OVER_COLOUR = "#c0392b"
TARGET_COLOUR = "#2c3e50"
# Steps are read in seconds, minutes or hours: grid lines at one of these intervals.
TICK_STEPS_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
MAX_TICKS = 10
LABEL_CHARACTERS = 36

WIDTH = 900
LABEL_WIDTH = 200
BAR_END = 580
TEXT_X = 592
ROW_HEIGHT = 22


def get_latest_time(summary: DrillSummary) -> float:
    """The drill's end, or, if it never ended, the latest moment its journal tells of."""
    if summary.finished_at is not None:
        return summary.finished_at
    moments = [summary.started_at, summary.fault_at or summary.started_at]
    for step in [*summary.steps, *summary.rollbacks]:
        moments.append(step.started_at)
        if step.finished_at is not None:
            moments.append(step.finished_at)
    return max(moments)


def make_tick_seconds(span_seconds: float) -> float:
    """The smallest of ``TICK_STEPS_SECONDS`` drawing at most ``MAX_TICKS`` grid lines (or the
    largest, for a drill of more than 40 hours)."""
    for step in TICK_STEPS_SECONDS:
        if span_seconds / step <= MAX_TICKS:
            return float(step)
    return float(TICK_STEPS_SECONDS[-1])


def _shorten(text: str) -> str:
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"


def _bar(step: StepResult, origin: float, end: float, strings: Mapping[str, str]) -> ChartBar:
    finished = step.finished_at is not None
    stop = step.finished_at if step.finished_at is not None else max(end, step.started_at)
    name = f"{step.group} / {step.name}" if step.group else step.name
    if step.kind == "rollback":
        name = f"↩ {name}"
    status = translate_value(strings, "status", step.status)
    return ChartBar(
        label=_shorten(name),
        start_seconds=step.started_at - origin,
        end_seconds=stop - origin,
        colour=STATUS_COLOURS.get(step.status, OTHER_COLOUR),
        tooltip=f"{name}: {status}, {format_duration(stop - step.started_at, strings)}"
        + ("" if finished else f" ({strings['never_finished']})"),
        open_ended=not finished,
    )


def make_timeline_svg(summary: DrillSummary, strings: Mapping[str, str]) -> str:
    """The steps then the rollbacks as bars on a seconds axis from T0, the fault marked.

    A step that never finished is drawn faded to the end of the drill (or, for a drill that
    never ended, to the latest moment known).
    """
    origin = summary.started_at
    end = get_latest_time(summary)
    steps = [*summary.steps, *summary.rollbacks]
    bars = [_bar(step, origin, end, strings) for step in steps]
    markers = []
    if summary.fault_at is not None:
        markers.append(ChartMarker(summary.fault_at - origin, strings["chart_fault"]))
    statuses = list(dict.fromkeys(step.status for step in steps))
    legend = [
        (STATUS_COLOURS.get(status, OTHER_COLOUR), translate_value(strings, "status", status))
        for status in statuses
    ]
    span = end - origin
    return make_bar_chart(
        strings["chart_timeline"],
        bars,
        span_seconds=span,
        tick_seconds=make_tick_seconds(span),
        tick_label=lambda seconds: f"+{seconds:g}",
        markers=markers,
        legend=legend,
        empty_text=strings["chart_no_steps"],
    )


class Metric(NamedTuple):
    """One measured value of a service against its target (None: not measured, no target)."""

    key: str  # the words' key in i18n: rto | rpo_database | rpo_files
    value: float | None
    target: float | None
    ok: bool


def list_metrics(service: ServiceMeasurement) -> list[Metric]:
    """The RTO, database RPO and file-store RPO of ``service``, in the report's order."""
    return [
        Metric("rto", service.rto_seconds, service.rto_target_seconds, service.rto_ok),
        Metric("rpo_database", service.rpo_seconds, service.rpo_target_seconds, service.rpo_ok),
        Metric(
            "rpo_files",
            service.files_rpo_seconds,
            service.files_rpo_target_seconds,
            service.files_rpo_ok,
        ),
    ]


def _panels(services: Sequence[ServiceMeasurement]) -> list[tuple[str, list[tuple[str, Metric]]]]:
    """Per metric, each service's value; file-store RPO only if a service has one."""
    panels: list[tuple[str, list[tuple[str, Metric]]]] = []
    if not services:
        return panels
    for index, key in enumerate(("rto", "rpo_database", "rpo_files")):
        items = [(service.service, list_metrics(service)[index]) for service in services]
        if key != "rpo_files" or any(
            metric.value is not None or metric.target is not None for _, metric in items
        ):
            panels.append((key, items))
    return panels


def _measurement_row(
    service: str, metric: Metric, y: float, scale: float, strings: Mapping[str, str]
) -> str:
    parts = [
        f'<text x="20" y="{y + 15}">{escape(_shorten(service))}</text>'
        f'<line x1="{LABEL_WIDTH}" y1="{y + 2}" x2="{LABEL_WIDTH}" '
        f'y2="{y + ROW_HEIGHT - 2}" stroke="#999"/>'
    ]
    measured = strings["not_measured"]
    if metric.value is not None:
        measured = format_duration(metric.value, strings)
        colour = OVER_COLOUR if not metric.ok else WITHIN_COLOUR
        if metric.target is None:
            colour = OTHER_COLOUR
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{max(metric.value * scale, 1.0):.1f}" '
            f'height="{ROW_HEIGHT - 8}" fill="{colour}">'
            f"<title>{escape(service)}: {escape(measured)}</title></rect>"
        )
    wanted = strings["no_target"]
    if metric.target is not None:
        wanted = format_duration(metric.target, strings)
        x = LABEL_WIDTH + metric.target * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + ROW_HEIGHT}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="3"/>'
        )
    style = "" if metric.value is not None else ' fill="#777" font-style="italic"'
    parts.append(
        f'<text x="{TEXT_X}" y="{y + 15}" font-size="11"{style}>{escape(measured)} / '
        f"{escape(strings['target'].lower())} {escape(wanted)}</text>"
    )
    return "".join(parts)


def make_measurement_svg(services: Sequence[ServiceMeasurement], strings: Mapping[str, str]) -> str:
    """Per metric (RTO, database RPO, file-store RPO) a bar per service against its target.

    Within a metric the services share one scale; the target is a dark line across the row,
    the bar green when within it and red when over. A value not measured has no bar and says
    so; no services at all draws a sentence saying so.
    """
    panels = _panels(services)
    rows = sum(1 + len(items) for _, items in panels)
    height = 40 + ROW_HEIGHT * max(rows, 1) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="14">{escape(strings["chart_measurements"])}</text>',
    ]
    if not panels:
        parts.append(f'<text x="10" y="56">{escape(strings["chart_no_services"])}</text></svg>')
        return "\n".join(parts)
    y = 40.0
    for key, items in panels:
        parts.append(f'<text x="10" y="{y + 15}" font-weight="bold">{escape(strings[key])}</text>')
        y += ROW_HEIGHT
        largest = max(max(metric.value or 0.0, metric.target or 0.0) for _, metric in items)
        scale = (BAR_END - LABEL_WIDTH) / (largest * 1.1 or 1.0)
        for service, metric in items:
            parts.append(_measurement_row(service, metric, y, scale, strings))
            y += ROW_HEIGHT
    legend_y = y + 16
    parts.append(
        f'<rect x="10" y="{legend_y}" width="12" height="12" fill="{WITHIN_COLOUR}"/>'
        f'<text x="26" y="{legend_y + 10}">{escape(strings["chart_within"])}</text>'
        f'<rect x="190" y="{legend_y}" width="12" height="12" fill="{OVER_COLOUR}"/>'
        f'<text x="206" y="{legend_y + 10}">{escape(strings["chart_over"])}</text>'
        f'<line x1="376" y1="{legend_y - 2}" x2="376" y2="{legend_y + 14}" '
        f'stroke="{TARGET_COLOUR}" stroke-width="3"/>'
        f'<text x="384" y="{legend_y + 10}">{escape(strings["target"])}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
