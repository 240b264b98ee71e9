"""What a drill report says: its sections of tables, paragraphs and charts, in a language.

Pure: a DrillSummary (see ``summary.py``) and a language in, a ``Document`` out. The content
is decided once, here, so that the two writers in ``report.py`` (Markdown and HTML) only
spell it in their syntax and both formats always carry the same content. Texts are left
unescaped: each writer escapes for its own syntax.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from egov.drills.charts import list_metrics, make_measurement_svg, make_timeline_svg
from egov.drills.i18n import format_duration, format_offset, get_strings, translate_value
from egov.drills.journal import format_time
from egov.drills.summary import DrillStatus, DrillSummary, ServiceMeasurement, StepResult

SHORT_HASH_CHARACTERS = 12
DASH = "—"
GOOD_STATUSES = {"succeeded"}
MUTED_STATUSES = {"skipped"}


@dataclass(frozen=True)
class Cell:
    """One table cell: ``tone`` is "good", "bad", "muted" or ""; ``note`` a second line."""

    text: str
    tone: str = ""
    note: str = ""
    code: bool = False


@dataclass(frozen=True)
class Table:
    """Rows under ``headers``; ``kind`` "facts" (label, value) or "signoff" changes the look."""

    headers: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]
    kind: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    tone: str = ""


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Listing:
    items: list[str]


@dataclass(frozen=True)
class Preformatted:
    title: str
    text: str


@dataclass(frozen=True)
class Chart:
    """An SVG element: drawn in HTML, left out of Markdown."""

    svg: str


Block = Table | Paragraph | Heading | Listing | Preformatted | Chart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    lang: str
    title: str
    subtitle: str
    verdict: str
    passed: bool
    preamble: list[Paragraph]
    sections: list[Section]


def _named(title: str, name: str) -> str:
    return f"{title} ({name})" if title and name else title or name or DASH


def _moment(seconds: float, origin: float, strings: Mapping[str, str]) -> Cell:
    return Cell(format_time(seconds), note=format_offset(seconds - origin, strings))


def _value(value: Any) -> str:
    if value is None:
        return DASH
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _status_cell(status: str, strings: Mapping[str, str], note: str = "") -> Cell:
    tone = "good" if status in GOOD_STATUSES else "muted" if status in MUTED_STATUSES else "bad"
    return Cell(translate_value(strings, "status", status), tone, note)


def _verdict_cell(ok: bool, strings: Mapping[str, str]) -> Cell:
    return Cell(strings["passed"], "good") if ok else Cell(strings["failed"], "bad")


def _scenario_title(summary: DrillSummary, strings: Mapping[str, str]) -> str:
    """The scenario's Vietnamese title in a Vietnamese report, when it has one."""
    if strings is get_strings("vi") and summary.scenario_title_vi:
        return summary.scenario_title_vi
    return summary.scenario_title


def _overview(summary: DrillSummary, strings: Mapping[str, str]) -> Section:
    origin = summary.started_at
    finished = Cell(strings["not_finished"], "bad")
    if summary.finished_at is not None:
        finished = _moment(summary.finished_at, origin, strings)
    end = summary.finished_at if summary.finished_at is not None else origin
    fault = Cell(strings["no_fault"], "muted")
    if summary.fault_at is not None:
        fault = _moment(summary.fault_at, origin, strings)
    version = summary.scenario_version[:SHORT_HASH_CHARACTERS] or DASH
    facts = [
        ("estate", Cell(_named(summary.estate_title, summary.estate))),
        ("scenario", Cell(_named(_scenario_title(summary, strings), summary.scenario))),
        ("description", Cell(summary.description or DASH)),
        ("scenario_version", Cell(version, code=True)),
        ("mode", Cell(summary.mode or DASH)),
        ("operator", Cell(summary.operator or DASH)),
        ("reason", Cell(summary.reason or DASH)),
        ("control_node", Cell(summary.control_node or DASH)),
        ("egov_version", Cell(summary.egov_version or DASH)),
        ("started", _moment(origin, origin, strings)),
        ("finished", finished),
        (
            "total_duration",
            Cell(format_duration(end - origin, strings)) if end > origin else Cell(DASH),
        ),
        ("fault_at", fault),
        ("status", _status_cell(summary.status.value, strings)),
        ("verdict", _verdict_cell(summary.succeeded, strings)),
    ]
    rows = [(Cell(strings[key]), cell) for key, cell in facts]
    return Section(
        strings["overview"], [Table((strings["item"], strings["content"]), rows, "facts")]
    )


def _probes(summary: DrillSummary, strings: Mapping[str, str]) -> Section:
    if not summary.probes:
        return Section(strings["probes"], [Paragraph(strings["no_probes"], "muted")])
    headers = ("phase", "probe", "value", "tolerance", "result", "detail")
    rows = [
        (
            Cell(translate_value(strings, "phase", probe.phase)),
            Cell(probe.name),
            Cell(_value(probe.value), code=True),
            Cell(probe.tolerance or DASH),
            _verdict_cell(probe.ok, strings),
            Cell(probe.detail),
        )
        for probe in summary.probes
    ]
    return Section(strings["probes"], [Table(tuple(strings[key] for key in headers), rows)])


def _step_row(step: StepResult, origin: float, strings: Mapping[str, str]) -> tuple[Cell, ...]:
    duration = Cell(strings["never_finished"], "bad")
    if step.duration_seconds is not None:
        duration = Cell(format_duration(step.duration_seconds, strings))
    return (
        Cell(step.group or DASH),
        Cell(step.name, note=step.description),
        Cell(translate_value(strings, "kind", step.kind)),
        _status_cell(step.status, strings, "" if step.critical else strings["non_critical"]),
        Cell(format_offset(step.started_at - origin, strings), note=format_time(step.started_at)),
        duration,
        Cell(str(step.attempts)),
        Cell(step.error, "bad" if step.error else ""),
    )


def _timeline(summary: DrillSummary, strings: Mapping[str, str]) -> list[Section]:
    headers = ("group", "name", "kind", "status", "start_offset", "duration", "attempts", "error")
    blocks: list[Block] = [Chart(make_timeline_svg(summary, strings))]
    for key, steps in (("steps", summary.steps), ("rollbacks", summary.rollbacks)):
        blocks.append(Heading(strings[key]))
        if not steps:
            blocks.append(Paragraph(strings[f"no_{key}"], "muted"))
            continue
        rows = [_step_row(step, summary.started_at, strings) for step in steps]
        blocks.append(Table(tuple(strings[header] for header in headers), rows))
    sections = [Section(strings["timeline"], blocks)]
    outputs: list[Block] = [
        Preformatted(f"{step.group} / {step.name}" if step.group else step.name, step.output)
        for step in [*summary.steps, *summary.rollbacks]
        if step.output
    ]
    if outputs:
        sections.append(Section(strings["outputs"], outputs))
    return sections


def _measurement_row(
    label: str, value: float | None, target: float | None, ok: bool, strings: Mapping[str, str]
) -> tuple[Cell, ...]:
    measured = Cell(strings["not_measured"], "muted")
    if value is not None:
        measured = Cell(format_duration(value, strings))
    if target is None:
        wanted, result = (
            Cell(strings["no_target"], "muted"),
            Cell(strings["not_applicable"], "muted"),
        )
    else:
        wanted, result = Cell(format_duration(target, strings)), _verdict_cell(ok, strings)
    if target is not None and value is None and ok:
        # summary.py counts an unmeasured file-store RPO as within target: say it was not measured
        result = Cell(strings["not_measured"], "muted")
    return (Cell(label), measured, wanted, result)


def _service(service: ServiceMeasurement, strings: Mapping[str, str]) -> list[Block]:
    rows = [
        _measurement_row(strings[metric.key], metric.value, metric.target, metric.ok, strings)
        for metric in list_metrics(service)
    ]
    verdict = strings["passed"] if service.ok else strings["failed"]
    headers = (strings["metric"], strings["measured"], strings["target"], strings["result"])
    blocks: list[Block] = [
        Heading(f"{_named(service.title, service.service)}: {verdict}"),
        Table(headers, rows),
    ]
    lost = strings["not_measured"] if service.lost_records is None else str(service.lost_records)
    blocks.append(
        Paragraph(
            f"{strings['lost_records']}: {lost}. "
            f"{strings['refused_writes']}: {service.failed_writes}."
        )
    )
    blocks += [Paragraph(problem) for problem in service.problems]
    if service.detail:
        blocks.append(Paragraph(service.detail, "muted"))
    return blocks


def _measurements(summary: DrillSummary, strings: Mapping[str, str]) -> Section:
    if not summary.measured:
        return Section(strings["measurements"], [Paragraph(strings["not_measured_mode"], "muted")])
    blocks: list[Block] = [Chart(make_measurement_svg(summary.services, strings))]
    if not summary.services:
        blocks.append(Paragraph(strings["no_services"], "muted"))
    for service in summary.services:
        blocks.extend(_service(service, strings))
    return Section(strings["measurements"], blocks)


def _silences(summary: DrillSummary, strings: Mapping[str, str]) -> Section:
    """The silences the drill set and removed, and the warnings (no Alertmanager answered)."""
    origin = summary.started_at
    blocks: list[Block] = [Paragraph(warning, "bad") for warning in summary.warnings]
    if not summary.silences:
        blocks.append(Paragraph(strings["no_silences"], "muted"))
    else:
        headers = ("silence_id", "silence_matchers", "silence_set", "silence_until")
        rows = [
            (
                Cell(silence.id, code=True),
                Cell(", ".join(silence.matchers) or DASH, code=True),
                Cell(DASH) if silence.set_at is None else _moment(silence.set_at, origin, strings),
                Cell(silence.ends_at or DASH),
                Cell(strings["silence_still_live"], "bad")
                if silence.lifted_at is None
                else _moment(silence.lifted_at, origin, strings),
            )
            for silence in summary.silences
        ]
        keys = (*headers, "silence_lifted")
        blocks.append(Table(tuple(strings[key] for key in keys), rows))
    blocks.append(Paragraph(strings["silences_rule"], "muted"))
    return Section(strings["silences"], blocks)


def _listing(title: str, items: list[str], empty: str) -> Section:
    return Section(title, [Listing(items) if items else Paragraph(empty, "muted")])


def _closing(summary: DrillSummary, strings: Mapping[str, str]) -> list[Section]:
    evidence = [
        (Cell(strings["journal_path"]), Cell(summary.journal_path or DASH, code=True)),
        (Cell(strings["journal_entries"]), Cell(str(summary.journal_entries))),
        (Cell(strings["journal_last_hash"]), Cell(summary.journal_last_hash or DASH, code=True)),
        (Cell(strings["journal_key"]), Cell(summary.journal_key or DASH, code=True)),
    ]
    signoff = [
        (Cell(strings["operator"]), Cell(summary.operator), Cell(""), Cell("")),
        (Cell(strings["reviewer"]), Cell(""), Cell(""), Cell("")),
    ]
    headers = (strings["role"], strings["full_name"], strings["date"], strings["signature"])
    return [
        _listing(strings["failures"], summary.failures, strings["no_failures"]),
        _listing(strings["notes"], summary.notes, strings["no_notes"]),
        Section(
            strings["integrity"],
            [
                Table((strings["item"], strings["content"]), evidence, "facts"),
                Paragraph(strings["integrity_rule"], "muted"),
            ],
        ),
        Section(
            strings["signoff"],
            [Paragraph(strings["signoff_statement"]), Table(headers, signoff, "signoff")],
        ),
    ]


def build_document(summary: DrillSummary, lang: str) -> Document:
    """What the report of ``summary`` says in ``lang``; raise ValueError for another language."""
    strings = get_strings(lang)
    preamble = [
        Paragraph(
            f"{strings['status']}: {translate_value(strings, 'status', summary.status.value)}"
        ),
        Paragraph(strings["verdict_rule"], "muted"),
    ]
    if summary.status is DrillStatus.UNFINISHED:
        preamble.append(Paragraph(strings["unfinished_warning"], "bad"))
    return Document(
        lang=lang,
        title=strings["title"],
        subtitle=" — ".join(
            [
                _named(summary.estate_title, summary.estate),
                _named(_scenario_title(summary, strings), summary.scenario),
            ]
        ),
        verdict=f"{strings['verdict']}: "
        + (strings["passed"] if summary.succeeded else strings["failed"]),
        passed=summary.succeeded,
        preamble=preamble,
        sections=[
            _overview(summary, strings),
            _probes(summary, strings),
            *_timeline(summary, strings),
            _silences(summary, strings),
            _measurements(summary, strings),
            *_closing(summary, strings),
        ],
    )
