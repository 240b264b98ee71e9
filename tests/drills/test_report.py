"""The drill report: pure, from real journals written in a temporary directory.

Each summary comes from a journal written with ``Journal`` and read back with
``read_journal`` (so the hash chain is real), folded by ``summarize``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from egov.drills.charts import get_latest_time, make_measurement_svg, make_timeline_svg
from egov.drills.document import Table, build_document
from egov.drills.events import read_events
from egov.drills.i18n import STRINGS, format_duration, format_offset, get_strings
from egov.drills.journal import JOURNAL_NAME, Journal, format_time
from egov.drills.report import render_html, render_markdown
from egov.drills.summary import DrillSummary, summarize

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC).timestamp()
XSS = "<script>alert(1)</script>"
TARGETS = {
    "portal": {
        "title": "Cổng dịch vụ công trực tuyến",
        "rto_seconds": 180,
        "rpo_seconds": 5,
        "files_rpo_seconds": 300,
    },
    "motcua": {
        "title": "Phần mềm một cửa điện tử",
        "rto_seconds": 180,
        "rpo_seconds": 5,
        "files_rpo_seconds": 300,
    },
}


class DrillWriter:
    """A real journal whose entries carry the drill's times, ``offset`` seconds after T0.

    ``Journal.append`` stamps the clock; passing ``epoch``/``at``/``t`` as fields overrides
    them before the hash is taken, so the offsets in the report are known exactly.
    """

    def __init__(self, path: Path) -> None:
        self.journal = Journal.create(path)

    def add(self, offset: float, event: str, **fields: Any) -> None:
        epoch = T0 + offset
        self.journal.append(event, epoch=epoch, at=format_time(epoch), t=offset, **fields)

    def step(self, start: float, end: float | None, name: str, **fields: Any) -> None:
        ending = {
            key: fields.pop(key)
            for key in ("status", "attempts", "output", "error")
            if key in fields
        }
        self.add(start, "step", name=name, **fields)
        if end is not None:
            self.add(end, "step-end", name=name, **{"status": "succeeded", **ending})

    def rollback(self, start: float, end: float, name: str, **ending: Any) -> None:
        self.add(start, "rollback", name=name)
        self.add(end, "rollback-end", name=name, **{"status": "succeeded", **ending})


def start(writer: DrillWriter, *, measured: bool = True, targets: Any = None) -> None:
    writer.add(
        0,
        "start",
        estate="camau-lab",
        estate_title="Cà Mau e-government data centre (lab)",
        scenario="site-failover",
        scenario_title="Chuyển toàn bộ dịch vụ sang site2",
        description="Tắt site1, nâng cơ sở dữ liệu site2, chuyển proxy.",
        scenario_version="9f2c4e1ab37d" + "0" * 52,
        mode="live",
        operator="Nguyễn Văn An",
        reason="Diễn tập định kỳ quý IV",
        control_node="ctl-01",
        egov_version="0.1.0",
        measured=measured,
        targets=TARGETS if targets is None else targets,
    )


def loss_fields(cutoff: float, seconds: float) -> dict[str, Any]:
    """An ``rpo`` measure's record-by-record fields: 20 records acknowledged 0.25 s apart up to
    ``cutoff``, the last ``seconds`` of them lost."""
    acknowledged = [(1000 + index, T0 + cutoff - 0.25 * (19 - index)) for index in range(20)]
    lost = [[seq, at] for seq, at in acknowledged if at > T0 + cutoff - seconds]
    recovered = [at for seq, at in acknowledged if at <= T0 + cutoff - seconds]
    return {
        "seconds": seconds,
        "cutoff": T0 + cutoff,
        "acknowledged": len(acknowledged),
        "newest_acknowledged_at": acknowledged[-1][1],
        "newest_recovered_at": max(recovered, default=None),
        "lost": lost,
        "lost_records": len(lost),
    }


def write_failed_drill(tmp_path: Path, *, finished: bool = True) -> Path:
    """Probes, a fault, a failed step, a step never finished, rollbacks, measures, a note."""
    path = tmp_path / "failover" / JOURNAL_NAME
    writer = DrillWriter(path)
    start(writer)
    writer.add(
        1, "probe", phase="before", name="replication-lag", value=0.4, tolerance="<= 5 s", ok=True
    )
    writer.add(
        1.5,
        "probe",
        phase="before",
        name="portal-health",
        value={"status": 200},
        tolerance="== 200",
        ok=True,
        detail="HTTP 200 in 35 ms",
    )
    writer.step(2, 4, "freeze-writes", group="prepare", output=XSS)
    writer.add(10, "fault", name="power off db-01")
    writer.step(12, 40, "promote-database", group="failover", attempts=2)
    writer.step(
        41,
        70,
        "switch-proxy",
        group="failover",
        status="failed",
        error="nginx: [emerg] host not found | upstream site2",
    )
    writer.step(71, None, "check-motcua", group="verify", kind="probe", critical=False)
    writer.rollback(100, 130, "switch-proxy")
    writer.rollback(131, 150, "promote-database", status="failed", error="pg_rewind refused")
    measures = {
        "portal": {"rto": 150, "rpo": 3, "files-rpo": 120},
        "motcua": {"rto": 250, "rpo": 4},
    }
    for service, values in measures.items():  # motcua: over its RTO, file store not measured
        for metric, seconds in values.items():
            extra = loss_fields(10, seconds) if metric == "rpo" else {"seconds": seconds}
            writer.add(155, "measure", service=service, metric=metric, **extra)
    writer.add(156, "note", text="Mạng site2 chậm trong 30 giây đầu.")
    writer.add(157, "failure", text="switch-proxy: host not found | upstream site2")
    if finished:
        writer.add(160, "end", status="failed")
    return path


def write_good_drill(tmp_path: Path, rto_seconds: float = 120, *, measured: bool = True) -> Path:
    path = tmp_path / "good" / JOURNAL_NAME
    writer = DrillWriter(path)
    start(writer, measured=measured)
    writer.step(1, 5, "promote-database", group="failover")
    for service in ("portal", "motcua"):
        writer.add(6, "measure", service=service, metric="rto", seconds=rto_seconds)
        writer.add(6, "measure", service=service, metric="rpo", **loss_fields(5, 1.5))
        writer.add(6, "measure", service=service, metric="files-rpo", seconds=60)
    writer.add(8, "end", status="succeeded")
    return path


def load(path: Path) -> DrillSummary:
    return summarize(read_events(path), journal_path=str(path))


@pytest.fixture
def failed(tmp_path: Path) -> DrillSummary:
    return load(write_failed_drill(tmp_path))


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(match) for match in re.findall(r"<svg.*?</svg>", html, re.DOTALL)]


def table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def columns(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line)) - 1


# The words


def test_both_languages_have_the_same_words_and_none_is_empty() -> None:
    assert set(STRINGS["vi"]) == set(STRINGS["en"])
    assert all(text.strip() for words in STRINGS.values() for text in words.values())


def test_vietnamese_words_carry_their_diacritics() -> None:
    vi = get_strings("vi")
    assert vi["title"] == "Báo cáo diễn tập chuyển đổi dự phòng"
    assert vi["rto"] == "Thời gian khôi phục (RTO)"
    assert vi["rpo"] == "Lượng dữ liệu mất tối đa (RPO)"
    assert (vi["passed"], vi["failed"], vi["target"]) == ("Đạt", "Không đạt", "Mục tiêu")
    assert (vi["operator"], vi["reason"], vi["signature"]) == ("Người thực hiện", "Lý do", "Chữ ký")


@pytest.mark.parametrize(
    ("seconds", "vi", "en"),
    [
        (0.35, "0,3 giây", "0.3 s"),  # 0.35 is 0.34999… in binary
        (4, "4 giây", "4 s"),
        (45.4, "45 giây", "45 s"),
        (59.7, "1 phút 00 giây", "1 min 00 s"),
        (125, "2 phút 05 giây", "2 min 05 s"),
        (3725, "1 giờ 02 phút 05 giây", "1 h 02 min 05 s"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float, vi: str, en: str) -> None:
    assert format_duration(seconds, get_strings("vi")) == vi
    assert format_duration(seconds, get_strings("en")) == en


def test_offsets_count_seconds_from_t0() -> None:
    assert format_offset(125.25, get_strings("en")) == "T+125.2 s"
    assert format_offset(12, get_strings("vi")) == "T+12,0 giây"


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_an_unknown_language_is_refused(failed: DrillSummary, render: Any) -> None:
    with pytest.raises(ValueError, match="fr"):
        render(failed, "fr")


# Content


def test_vietnamese_report_says_what_ran_and_that_it_failed(failed: DrillSummary) -> None:
    markdown = render_markdown(failed, "vi")
    assert markdown.startswith("# Báo cáo diễn tập chuyển đổi dự phòng\n")
    assert "**Kết luận: Không đạt**" in markdown
    for text in [
        "Cà Mau e-government data centre (lab) (camau-lab)",
        "Chuyển toàn bộ dịch vụ sang site2 (site-failover)",
        "Nguyễn Văn An",
        "Diễn tập định kỳ quý IV",
        "ctl-01",
        "`9f2c4e1ab37d`",  # the scenario's hash, shortened
        "2026-11-27T08:00:00.000Z",
        "2026-11-27T08:02:40.000Z<br>T+160,0 giây",  # the end, in UTC and from T0
        "2026-11-27T08:00:10.000Z<br>T+10,0 giây",  # the fault
        "2 phút 40 giây",  # the whole drill
        "Thời gian khôi phục (RTO) | 2 phút 30 giây | 3 phút 00 giây | Đạt",
        "Mạng site2 chậm trong 30 giây đầu.",
        "Người kiểm tra / kiểm toán",
    ]:
        assert text in markdown, text
    assert "Không đạt" in markdown and "Thất bại" in markdown


def test_english_report_uses_english_words(failed: DrillSummary) -> None:
    markdown = render_markdown(failed, "en")
    assert markdown.startswith("# Failover drill report\n")
    assert "**Verdict: Failed**" in markdown
    assert "Recovery time (RTO) | 2 min 30 s | 3 min 00 s | Passed" in markdown
    assert "| failover | switch-proxy | Action | **Failed** |" in markdown
    assert "Kết luận" not in markdown and "Đạt" not in markdown and "phút" not in markdown


def test_a_service_over_its_rto_target_fails(failed: DrillSummary) -> None:
    markdown = render_markdown(failed, "en")
    assert "### Phần mềm một cửa điện tử (motcua): Failed" in markdown
    assert "### Cổng dịch vụ công trực tuyến (portal): Passed" in markdown
    assert "Recovery time (RTO) | 4 min 10 s | 3 min 00 s | **Failed**" in markdown
    chart = make_measurement_svg(failed.services, get_strings("en"))
    bars = {rect.findtext(f"{SVG}title"): rect.get("fill") for rect in ET.fromstring(chart)}
    assert bars["motcua: 4 min 10 s"] == "#c0392b"
    assert bars["portal: 2 min 30 s"] == "#27ae60"


def test_the_verdict_passes_only_a_succeeded_drill_within_every_target(tmp_path: Path) -> None:
    good = load(write_good_drill(tmp_path))
    assert "**Kết luận: Đạt**" in render_markdown(good, "vi")
    assert '<div class="verdict good">Verdict: Passed</div>' in render_html(good, "en")
    slow = load(write_good_drill(tmp_path / "slow", rto_seconds=200))
    assert slow.status.value == "succeeded"
    assert "**Kết luận: Không đạt**" in render_markdown(slow, "vi")


def test_steps_and_rollbacks_show_status_offset_duration_attempts(failed: DrillSummary) -> None:
    markdown = render_markdown(failed, "en")
    promote = next(line for line in table_lines(markdown) if "promote-database" in line)
    assert "T+12.0 s<br>2026-11-27T08:00:12.000Z" in promote
    assert "| 28 s | 2 |" in promote
    unfinished = next(line for line in table_lines(markdown) if "check-motcua" in line)
    assert "**Never finished**<br>non-critical" in unfinished and "**never finished**" in unfinished
    assert "### Rollbacks" in markdown and "pg\\_rewind refused" in markdown


def test_a_measurement_not_taken_says_so(failed: DrillSummary) -> None:
    markdown = render_markdown(failed, "en")
    motcua = markdown.split("(motcua)")[1]
    assert "Maximum data loss – file store (RPO) | not measured | 5 min 00 s |" in motcua
    chart = make_measurement_svg(failed.services, get_strings("en"))
    assert "not measured / target 5 min 00 s" in chart


def test_the_journal_is_the_evidence(failed: DrillSummary) -> None:
    html = render_html(failed, "vi")
    assert failed.journal_entries == 23 and len(failed.journal_last_hash) == 64
    for text in [failed.journal_path, failed.journal_last_hash, ">23<", "Chữ ký", "Ngày"]:
        assert text in html


def test_both_formats_carry_every_table_cell(failed: DrillSummary) -> None:
    html = render_html(failed, "vi")
    markdown = render_markdown(failed, "vi")
    document = build_document(failed, "vi")
    cells = [
        cell
        for section in document.sections
        for block in section.blocks
        if isinstance(block, Table)
        for row in block.rows
        for cell in row
        if cell.text
    ]
    assert len(cells) > 100
    unescaped = re.sub(r"\\([!-/:-@[-`{-~])", r"\1", markdown)  # ASCII punctuation
    for cell in cells:
        assert escape(cell.text) in html
        assert cell.text in unescaped


# Escaping and well-formedness


def test_html_escapes_what_the_summary_says(failed: DrillSummary) -> None:
    html = render_html(failed, "en")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()


def test_markdown_escapes_pipes_and_keeps_every_row_whole(failed: DrillSummary) -> None:
    markdown = render_markdown(failed, "en")
    assert "host not found \\| upstream site2" in markdown
    assert "\\<script\\>alert(1)\\</script\\>" not in markdown  # outputs are in code fences
    assert "```\n<script>alert(1)</script>\n```" in markdown
    blocks = markdown.split("\n\n")
    for block in blocks:
        lines = table_lines(block)
        assert len({columns(line) for line in lines}) <= 1, block


def test_html_is_one_self_contained_well_formed_document(failed: DrillSummary) -> None:
    html = render_html(failed, "vi")
    root = ET.fromstring(html)  # the page is written to parse as XML as well as HTML
    assert root.tag == "html" and root.get("lang") == "vi"
    assert len(root.findall(f".//{SVG}svg")) == 2
    assert root.find(".//script") is None and root.find(".//link") is None
    assert re.findall(r"(?:src|href)=", html) == []
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")
    style = root.findtext(".//style") or ""
    assert "@page { size: A4; margin: 15mm }" in style and "@media print" in style
    assert "break-inside: avoid" in style

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.tags.append(tag)

    parser = Tags()
    parser.feed(html)
    assert parser.tags.count("svg") == 2 and parser.tags.count("table") >= 8


# Charts


def test_the_timeline_marks_the_fault_and_colours_by_status(failed: DrillSummary) -> None:
    chart = ET.fromstring(make_timeline_svg(failed, get_strings("en")))
    texts = [text.text for text in chart.iter(f"{SVG}text")]
    assert "fault" in texts and "↩ switch-proxy" in texts
    rects = [rect for rect in chart.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(rects) == 6
    fills = {rect.findtext(f"{SVG}title", "").split(":")[0]: rect.get("fill") for rect in rects}
    assert fills["failover / switch-proxy"] == "#c0392b"
    assert fills["prepare / freeze-writes"] == "#27ae60"
    # the fault at T+10 s of 160 s, on a 620 px wide axis starting at x=260
    fault_line = [line for line in chart.iter(f"{SVG}line") if line.get("stroke") == "#c0392b"]
    assert [line.get("x1") for line in fault_line] == [f"{260 + 10 * 620 / 160:.1f}"]


def test_a_step_never_finished_is_drawn_to_the_end_of_the_drill(failed: DrillSummary) -> None:
    chart = ET.fromstring(make_timeline_svg(failed, get_strings("en")))
    unfinished = [rect for rect in chart.iter(f"{SVG}rect") if rect.get("stroke-dasharray")]
    assert len(unfinished) == 1
    end = float(unfinished[0].get("x", 0)) + float(unfinished[0].get("width", 0))
    assert end == pytest.approx(880, abs=0.2)


def test_an_unfinished_drill_renders_up_to_the_latest_moment_known(tmp_path: Path) -> None:
    summary = load(write_failed_drill(tmp_path, finished=False))
    assert summary.finished_at is None and get_latest_time(summary) == T0 + 150
    markdown = render_markdown(summary, "vi")
    assert "Chưa kết thúc" in markdown and "egov drill recover" in markdown
    assert "| Kết thúc | **chưa kết thúc** |" in markdown
    html = render_html(summary, "vi")
    assert len(svgs(html)) == 2
    chart = ET.fromstring(make_timeline_svg(summary, get_strings("vi")))
    unfinished = [rect for rect in chart.iter(f"{SVG}rect") if rect.get("stroke-dasharray")]
    end = float(unfinished[0].get("x", 0)) + float(unfinished[0].get("width", 0))
    assert end == pytest.approx(880, abs=0.2)


def test_a_drill_that_measures_nothing_has_one_chart(tmp_path: Path) -> None:
    summary = load(write_good_drill(tmp_path, measured=False))
    assert summary.services == []
    html = render_html(summary, "en")
    assert len(svgs(html)) == 1 and "This mode does not measure RTO and RPO." in html
    assert "Recovery time (RTO)" not in render_markdown(summary, "en")


def test_a_drill_with_no_steps_and_no_services_still_draws(tmp_path: Path) -> None:
    path = tmp_path / "empty" / JOURNAL_NAME
    writer = DrillWriter(path)
    start(writer, targets={})
    summary = load(path)
    html = render_html(summary, "vi")
    charts = svgs(html)
    assert len(charts) == 2
    assert "Không có bước nào để vẽ." in ET.tostring(charts[0], encoding="unicode")
    assert "Không có dịch vụ nào được đo." in ET.tostring(charts[1], encoding="unicode")
    assert "sự cố" not in ET.tostring(charts[0], encoding="unicode")
    assert "Không có bước nào." in render_markdown(summary, "vi")


def write_total_loss_drill(tmp_path: Path) -> Path:
    """Every step succeeded, the service answered in time, and no acknowledged record came
    back: the journal of a replica cut off from its WAL stream before a test failover."""
    path = tmp_path / "loss" / JOURNAL_NAME
    writer = DrillWriter(path)
    start(writer, targets={"portal": TARGETS["portal"]})
    writer.add(3, "fault", note="RTO is measured from this moment")
    writer.step(3, 8, "copy-the-database", group="recover")
    writer.add(9, "measure", service="portal", metric="rto", seconds=6.2)
    everything = loss_fields(3, 10)  # 20 records over the 5 s before the fault: all lost
    writer.add(9, "measure", service="portal", metric="rpo", **everything)
    writer.add(10, "canary", services={"portal": {"refused_writes": 1, "failed_writes": 1}})
    writer.add(12, "end", status="succeeded")
    return path


def test_a_total_loss_fails_the_verdict_and_the_report_says_how_many_records(
    tmp_path: Path,
) -> None:
    summary = load(write_total_loss_drill(tmp_path))
    (portal,) = summary.services
    assert portal.rto_ok and not portal.rpo_ok and not summary.succeeded
    assert portal.rpo_seconds is None  # no newest recovered record to time from
    assert portal.lost_records == 20 and summary.lost_records == 20
    assert portal.failed_writes == 1
    assert any("no acknowledged record recovered" in problem for problem in portal.problems)
    english = render_markdown(summary, "en")
    assert "Acknowledged records lost at the recovery site: 20." in english
    assert "Canary writes refused while the service should have taken them: 1." in english
    assert "### Cổng dịch vụ công trực tuyến (portal): Failed" in english
    vietnamese = render_markdown(summary, "vi")
    assert "Bản ghi đã được xác nhận nhưng bị mất tại nơi khôi phục: 20." in vietnamese
    assert "Kết luận" in vietnamese and "Không đạt" in vietnamese


def test_an_rpo_journalled_before_records_were_counted_is_not_measured(tmp_path: Path) -> None:
    # an old journal's rpo entry (seconds only) cannot prove that no record was lost
    path = tmp_path / "old" / JOURNAL_NAME
    writer = DrillWriter(path)
    start(writer, targets={"portal": TARGETS["portal"]})
    writer.add(9, "measure", service="portal", metric="rto", seconds=6.2)
    writer.add(9, "measure", service="portal", metric="rpo", seconds=3.0, lost_records=13)
    writer.add(12, "end", status="succeeded")
    (portal,) = load(path).services
    assert not portal.rpo_ok and portal.lost_records is None
    assert "portal: RPO was not measured" in portal.problems[0]


def test_a_drill_that_set_no_silence_says_so(failed: DrillSummary) -> None:
    assert failed.silences == []
    assert "The drill set no silence." in render_markdown(failed, "en")
    assert "Cuộc diễn tập không đặt lệnh tạm ẩn cảnh báo nào." in render_markdown(failed, "vi")
