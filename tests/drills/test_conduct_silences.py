"""The runner silences the alerts a drill causes and lifts the silences however it ends.

The runner is given a client of a fake Alertmanager on loopback (``tests/fake_alertmanager.py``):
it stands in for the real one, which the lab suite exercises with ``egov drill run``. The
runner's other tests give it none, and no silence is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from egov.drills.conduct import RunOptions, run_drill
from egov.drills.events import read_events
from egov.drills.journal import JOURNAL_NAME, read_journal
from egov.drills.report import render_markdown
from egov.drills.scenario import Mode
from egov.drills.silences import make_settle_time
from egov.drills.summary import DrillStatus, DrillSummary, summarize
from egov.inventory.model import Estate
from egov.monitoring.alertmanager_api import AlertmanagerClient
from tests.drills.support import FakeCatalog, write_scenario
from tests.fake_alertmanager import FakeAlertmanager, serving_alertmanager

# step a acts on site2, b on the primary site (b's action is chosen by the test)
SCENARIO = """\
modes:
  test:
    cleanup: on-failure
    steps:
      - group: first
        steps:
          - name: a
            action: t-at-site
            with: {{label: a, site: site2}}
            rollback: {{action: t-record, with: {{label: undo-a}}}}
          - name: b
            action: {b_action}
            with: {{label: b}}
            rollback: {{action: t-at-site, with: {{label: undo-b, site: primary}}}}
"""


@pytest.fixture
def alertmanager() -> Iterator[FakeAlertmanager]:
    with serving_alertmanager() as fake:
        yield fake


def run(
    tmp_path: Path, estate: Estate, urls: list[str], b_action: str = "t-record"
) -> tuple[DrillSummary, list[dict[str, Any]]]:
    loaded = write_scenario(tmp_path, "t-silenced", SCENARIO.format(b_action=b_action), estate)
    options = RunOptions(
        mode=Mode.TEST,
        directory=tmp_path / "drills",
        reason="ticket 42",
        alertmanager=AlertmanagerClient(urls, timeout_seconds=1.0),
    )
    try:
        summary = run_drill(loaded, estate, options)
    except KeyboardInterrupt:
        (path,) = options.directory.glob(f"*/{JOURNAL_NAME}")
        summary = summarize(read_events(path), str(path))
    return summary, read_journal(Path(summary.journal_path))


def events(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["event"] for entry in entries]


def assert_settling(
    alertmanager: FakeAlertmanager, estate: Estate, entries: list[dict[str, Any]]
) -> None:
    """The drill's silences outlive it by the settle time only, so that what its last steps
    caused clears without paging (and nothing that is still wrong after that is hidden)."""
    ends = [e for e in entries if e["event"] == "silence-end"]
    assert ends and all(e["status"] == "ending" and e["by"] == "runner" for e in ends)
    live = alertmanager.get_live()
    assert {s["id"] for s in live} == {e["new_id"] for e in ends}
    latest = datetime.now(UTC) + make_settle_time(estate)
    assert all(datetime.fromisoformat(s["endsAt"]) <= latest for s in live), live
    assert make_settle_time(estate) == timedelta(minutes=1)  # lab: HostDown's 30 s + 2 scrapes


def test_silences_are_set_before_the_first_step_and_lifted_before_the_end(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog, alertmanager: FakeAlertmanager
) -> None:
    summary, entries = run(tmp_path, lab_estate, [alertmanager.url])
    assert summary.status is DrillStatus.SUCCEEDED
    order = events(entries)
    assert order.index("silence") < order.index("step")
    assert order[-4:] == ["silence-end", "silence-end", "end", "close"]
    set_entries = [e for e in entries if e["event"] == "silence"]
    assert [e["matchers"][0] for e in set_entries] == ['site="primary"', 'site="site2"']
    journal_id = Path(summary.journal_path).parent.name
    assert set_entries[0]["comment"] == f"drill t-silenced (test), journal {journal_id}: ticket 42"
    assert set_entries[0]["created_by"] == "egov drill t-silenced"
    assert_settling(alertmanager, lab_estate, entries)
    assert [(s.lifted_by, s.lifted_at is not None) for s in summary.silences] == [
        ("runner", True),
        ("runner", True),
    ]
    assert summary.warnings == []


@pytest.mark.parametrize(
    ("b_action", "status"),
    [("t-fail", DrillStatus.FAILED), ("t-interrupt", DrillStatus.INTERRUPTED)],
)
def test_a_failed_or_interrupted_drill_lifts_its_silences_too(
    tmp_path: Path,
    lab_estate: Estate,
    fake_catalog: FakeCatalog,
    alertmanager: FakeAlertmanager,
    b_action: str,
    status: DrillStatus,
) -> None:
    summary, entries = run(tmp_path, lab_estate, [alertmanager.url], b_action)
    assert summary.status is status
    assert fake_catalog.calls[-2:] == ["undo-b", "undo-a"]
    order = events(entries)
    assert order.index("silence-end") > max(i for i, e in enumerate(order) if e == "rollback-end")
    assert order.index("silence-end") < order.index("end")
    assert_settling(alertmanager, lab_estate, entries)


def test_no_alertmanager_answering_warns_and_the_drill_goes_on(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog
) -> None:
    summary, entries = run(tmp_path, lab_estate, ["http://127.0.0.1:1"])
    assert summary.status is DrillStatus.SUCCEEDED and summary.succeeded
    assert fake_catalog.calls == ["a", "b"]
    assert "silence" not in events(entries)
    assert len(summary.warnings) == 2  # not set, and not lifted
    assert "not silenced and may page" in summary.warnings[0]
    report = render_markdown(summary, "en")
    assert "not silenced and may page" in report


def test_the_report_lists_the_silences(
    tmp_path: Path, lab_estate: Estate, fake_catalog: FakeCatalog, alertmanager: FakeAlertmanager
) -> None:
    summary, _entries = run(tmp_path, lab_estate, [alertmanager.url])
    english = render_markdown(summary, "en")
    assert "Alerts silenced during the drill" in english
    for silence in summary.silences:
        assert silence.id in english
    assert "Tạm ẩn cảnh báo trong lúc diễn tập" in render_markdown(summary, "vi")
