"""The night as an SVG: one bar per job on a time axis, the window's end marked.

Hand-written SVG (no JavaScript, no plotting library): the file opens in any browser and
diffs as text. Bars past the window's end are drawn red. ``make_bar_chart`` draws any such
chart of spans on a seconds axis; the drill report's timeline uses it too. The night of the
jobs run less often than daily (a weekly dump, the WAL archives' base backups) are drawn
under the nightly one, one chart for each set of days they share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from egov.backup.night import Night
from egov.backup.nightdays import describe_days

WIDTH = 900
LABEL_WIDTH = 260
ROW_HEIGHT = 26
TOP = 40
LATE_COLOUR = "#c0392b"
ON_TIME_COLOUR = "#2e86c1"


@dataclass(frozen=True)
class ChartBar:
    """One row of a bar chart: ``label`` and a span of seconds from the chart's origin."""

    label: str
    start_seconds: float
    end_seconds: float
    colour: str
    tooltip: str = ""
    open_ended: bool = False  # its end is not known: drawn faded with a dashed outline


@dataclass(frozen=True)
class ChartMarker:
    """A dashed vertical line across every row at ``seconds``, labelled above the rows."""

    seconds: float
    label: str
    colour: str = LATE_COLOUR


def _axis_y(bar_count: int) -> int:
    return TOP + ROW_HEIGHT * max(bar_count, 1) + 10


def get_chart_height(bar_count: int, *, has_legend: bool = False) -> int:
    """The height of ``make_bar_chart``'s SVG for ``bar_count`` bars."""
    return _axis_y(bar_count) + (44 if has_legend else 24)


def make_bar_chart(
    title: str,
    bars: Sequence[ChartBar],
    *,
    span_seconds: float,
    tick_seconds: float,
    tick_label: Callable[[float], str],
    markers: Sequence[ChartMarker] = (),
    legend: Sequence[tuple[str, str]] = (),
    empty_text: str = "",
    y: float = 0.0,
) -> str:
    """The SVG element of ``bars`` on an axis from 0 to ``span_seconds`` (or further, to the
    last bar's end or marker).

    A grid line every ``tick_seconds``, labelled by ``tick_label(seconds)``; ``legend`` is
    (colour, words) pairs drawn under the axis; ``empty_text`` is written when there are no
    bars; ``y`` places the chart inside an enclosing SVG (``get_chart_height`` tall). Every
    text is escaped here.
    """
    ends = [bar.end_seconds for bar in bars] + [marker.seconds for marker in markers]
    span = max(span_seconds, *ends, 0.0) or 1.0
    scale = (WIDTH - LABEL_WIDTH - 20) / span
    axis_y = _axis_y(len(bars))
    height = get_chart_height(len(bars), has_legend=bool(legend))
    placed = f' y="{y:g}"' if y else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"{placed} '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="14">{escape(title)}</text>',
    ]
    tick = max(tick_seconds, span / 50)  # never more than 50 grid lines, whatever is asked
    count = int(span // tick)
    for index in range(count + 1):
        x = LABEL_WIDTH + index * tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{axis_y - 10}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{axis_y + 4}" text-anchor="middle">'
            f"{escape(tick_label(index * tick))}</text>"
        )
    if not bars and empty_text:
        parts.append(f'<text x="{LABEL_WIDTH}" y="{TOP + 16}">{escape(empty_text)}</text>')
    for index, bar in enumerate(bars):
        y = TOP + index * ROW_HEIGHT
        x = LABEL_WIDTH + bar.start_seconds * scale
        width = max((bar.end_seconds - bar.start_seconds) * scale, 1.0)
        style = ' fill-opacity="0.45" stroke-dasharray="4,3"' if bar.open_ended else ""
        parts.append(
            f'<text x="10" y="{y + 16}">{escape(bar.label)}</text>'
            f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW_HEIGHT - 8}" '
            f'fill="{bar.colour}" stroke="{bar.colour}"{style}>'
            f"<title>{escape(bar.tooltip or bar.label)}</title></rect>"
        )
    for marker in markers:
        x = LABEL_WIDTH + marker.seconds * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 12}" x2="{x:.1f}" y2="{axis_y - 10}" '
            f'stroke="{marker.colour}" stroke-width="2" stroke-dasharray="6,4"/>'
            f'<text x="{x + 4:.1f}" y="{TOP - 14}" fill="{marker.colour}">'
            f"{escape(marker.label)}</text>"
        )
    x = 10.0
    for colour, words in legend:
        parts.append(
            f'<rect x="{x:.1f}" y="{axis_y + 16}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.1f}" y="{axis_y + 26}">{escape(words)}</text>'
        )
        x += 32 + 7 * len(words)
    parts.append("</svg>")
    return "\n".join(parts)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _make_night_chart(night: Night, window_start: str, title: str, y: float = 0.0) -> str:
    span = max([night.window_end_seconds, *(job.end_seconds for job in night.jobs)]) or 1.0
    origin = min([0.0, *(job.start_seconds for job in night.jobs)])
    hours = max(int((span - origin) // 3600), 1)
    bars = [
        ChartBar(
            label=f"{job.label} → {job.site}" + (f" ×{job.shards}" if job.shards > 1 else ""),
            start_seconds=job.start_seconds - origin,
            end_seconds=job.end_seconds - origin,
            colour=LATE_COLOUR if job.end_seconds > night.window_end_seconds else ON_TIME_COLOUR,
            tooltip=f"{job.label}: {_hours(job.start_seconds)} – {_hours(job.end_seconds)}",
        )
        for job in night.jobs
    ]
    return make_bar_chart(
        f"{title} from {window_start} ({len(night.jobs)} jobs)",
        bars,
        span_seconds=span - origin,
        tick_seconds=max(hours // 12, 1) * 3600,
        tick_label=lambda seconds: f"{(seconds + origin) / 3600:+.0f} h",
        markers=[ChartMarker(night.window_end_seconds - origin, "window end")],
        y=y,
    )


def render_svg(
    night: Night,
    window_start: str,
    title: str = "Nightly window",
    longer: Sequence[Night] = (),
) -> str:
    """The SVG document of ``night``: its jobs on a time axis, the window's end marked; with
    ``longer``, each of those nights (the jobs run less often than daily too) drawn under it."""
    if not longer:
        return _make_night_chart(night, window_start, title) + "\n"
    charts = [_make_night_chart(night, window_start, title)]
    top = get_chart_height(len(night.jobs))
    for other in longer:
        charts.append(_make_night_chart(other, window_start, get_night_title(other), top))
        top += get_chart_height(len(other.jobs))
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{top}" '
            f'viewBox="0 0 {WIDTH} {top}">',
            *charts,
            "</svg>\n",
        ]
    )


def get_night_title(night: Night) -> str:
    """``The night of days 4, 11, 18 and 25`` for a night of jobs run less often than daily."""
    return f"The night of {describe_days(night.days)} (jobs run less often than daily)"
