"""The night as an SVG: one bar per job on a time axis, the window's end marked.

Hand-written SVG (no JavaScript, no plotting library): the file opens in any browser and
diffs as text. Bars past the window's end are drawn red.
"""

from __future__ import annotations

from html import escape

from egov.backup.plan import Plan

WIDTH = 900
LABEL_WIDTH = 260
ROW_HEIGHT = 26
TOP = 40


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def render_svg(plan: Plan) -> str:
    """The SVG document of ``plan``."""
    span = max([plan.window_end_seconds, *(bar.end_seconds for bar in plan.bars)]) or 1.0
    scale = (WIDTH - LABEL_WIDTH - 20) / span
    height = TOP + ROW_HEIGHT * len(plan.bars) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="14">Nightly window from '
        f"{escape(plan.assumptions.window_start)} ({len(plan.bars)} jobs)</text>",
    ]
    ticks = max(int(span // 3600), 1)
    step = max(ticks // 12, 1)
    for hour in range(0, ticks + 1, step):
        x = LABEL_WIDTH + hour * 3600 * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{height - 30}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle">+{hour} h</text>'
        )
    for index, bar in enumerate(plan.bars):
        y = TOP + index * ROW_HEIGHT
        x = LABEL_WIDTH + bar.start_seconds * scale
        width = max((bar.end_seconds - bar.start_seconds) * scale, 1.0)
        late = bar.end_seconds > plan.window_end_seconds
        colour = "#c0392b" if late else "#2e86c1"
        parts.append(
            f'<text x="10" y="{y + 16}">{escape(bar.label)} → {escape(bar.site)}</text>'
            f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{ROW_HEIGHT - 8}" '
            f'fill="{colour}"><title>{escape(bar.label)}: {_hours(bar.start_seconds)} – '
            f"{_hours(bar.end_seconds)}</title></rect>"
        )
    end_x = LABEL_WIDTH + plan.window_end_seconds * scale
    parts.append(
        f'<line x1="{end_x:.1f}" y1="{TOP - 12}" x2="{end_x:.1f}" y2="{height - 30}" '
        f'stroke="#c0392b" stroke-width="2" stroke-dasharray="6,4"/>'
        f'<text x="{end_x + 4:.1f}" y="{TOP - 14}" fill="#c0392b">window end</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
