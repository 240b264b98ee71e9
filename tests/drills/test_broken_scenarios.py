"""Broken scenario files: each gives a ``file:line`` message naming the fix, exit 2, and
nothing runs (``egov drill validate`` and ``egov drill run`` alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.cli import run

INVENTORY = str(Path(__file__).parents[2] / "inventory" / "lab.yaml")

# A small valid scenario; every case below breaks one thing. Line numbers count from 1.
BASE = """\
schema_version: 1
name: broken
title: A scenario to break
readiness:
  - name: lag
    probe: replication-lag
    with: {site: site2}
    tolerance: {max: 30}
modes:
  failover:
    measure: true
    recovery_site: site2
    steps:
      - group: fault
        steps:
          - name: power-off
            action: lab-power-off
            with: {site: primary}
            fault: true
            rollback:
              action: restore-site
              with: {site: primary}
      - group: recover
        parallel: true
        steps:
          - name: promote
            action: promote-database
            with: {site: site2}
            timeout: 2m
          - name: files
            action: restore-files
            with: {site: site2, dataset: files, repository: site2}
      - group: verify
        steps:
          - name: healthy
            probe: services-healthy
            with: {site: site2}
            timeout: 3m
"""


def replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


CASES: list[tuple[str, str, int, str]] = [
    # (id, text, expected line, expected words)
    (
        "yaml-syntax",
        replace("    probe: replication-lag\n", "    probe: [replication-lag\n"),
        7,
        "YAML",
    ),
    (
        "duplicate-key",
        replace("    tolerance: {max: 30}\n", "    tolerance: {max: 30}\n    probe: x\n"),
        9,
        "duplicate key",
    ),
    (
        "unknown-key",
        replace("    measure: true\n", "    measure: true\n    mesure: true\n"),
        12,
        "unknown key 'mesure'",
    ),
    (
        "missing-title",
        replace("title: A scenario to break\n", ""),
        1,
        "missing required key 'title'",
    ),
    ("unknown-mode", replace("  failover:\n", "  failover-now:\n"), 10, "failover-now"),
    (
        "readiness-as-mode",
        replace("modes:\n", "modes:\n  readiness: {steps: []}\n"),
        9,
        "not a plan",
    ),
    (
        "bad-duration",
        replace("            timeout: 2m\n", "            timeout: two minutes\n"),
        29,
        "timeout",
    ),
    (
        "zero-timeout",
        replace("            timeout: 2m\n", "            timeout: 0s\n"),
        29,
        "at least 1s",
    ),
    (
        "two-kinds",
        replace(
            "            probe: services-healthy\n",
            "            probe: services-healthy\n            action: promote-database\n",
        ),
        35,
        "exactly one of",
    ),
    ("no-kind", replace("            probe: services-healthy\n", ""), 35, "exactly one of"),
    (
        "tolerance-on-action",
        replace(
            "            timeout: 2m\n",
            "            timeout: 2m\n            tolerance: {max: 1}\n",
        ),
        26,
        "only a probe step takes",
    ),
    (
        "rollback-on-probe",
        replace(
            "            timeout: 3m\n",
            "            timeout: 3m\n            rollback: {action: restore-site}\n",
        ),
        35,
        "only an action step takes",
    ),
    ("empty-range", replace("{max: 30}", "{min: 40, max: 30}"), 8, "range is empty"),
    ("empty-tolerance", replace("{max: 30}", "{}"), 8, "needs `equals:`"),
    (
        "manual-in-parallel",
        replace(
            "          - name: files\n            action: restore-files\n"
            "            with: {site: site2, dataset: files, repository: site2}\n",
            "          - name: files\n            manual: Tell the users.\n",
        ),
        10,
        "parallel and has a manual step",
    ),
    (
        "unknown-action",
        replace("action: promote-database", "action: promote-databse"),
        27,
        "did you mean 'promote-database'",
    ),
    (
        "probe-as-action",
        replace("action: promote-database", "action: services-healthy"),
        27,
        "is a probe, not an action",
    ),
    (
        "unknown-probe",
        replace("probe: replication-lag", "probe: replication-lagg"),
        6,
        "unknown probe",
    ),
    (
        "unknown-argument",
        replace(
            "with: {site: site2}\n            timeout: 2m",
            "with: {site: site2, force: true}\n            timeout: 2m",
        ),
        28,
        "takes no argument 'force'",
    ),
    (
        "missing-argument",
        replace(
            "with: {site: site2, dataset: files, repository: site2}",
            "with: {site: site2, repository: site2}",
        ),
        32,
        "needs the argument 'dataset'",
    ),
    (
        "unknown-site",
        replace(
            "with: {site: primary}\n            fault", "with: {site: primry}\n            fault"
        ),
        18,
        "did you mean 'primary'",
    ),
    (
        "unknown-dataset",
        replace("dataset: files,", "dataset: filez,"),
        32,
        "unknown dataset 'filez'",
    ),
    (
        "unknown-repository",
        replace("repository: site2}", "repository: site3}"),
        32,
        "unknown repository 'site3'",
    ),
    (
        "unknown-rollback",
        replace("action: restore-site", "action: restore-sight"),
        21,
        "unknown action 'restore-sight'",
    ),
    ("duplicate-step", replace("- name: files\n", "- name: promote\n"), 30, "appears twice"),
    (
        "measure-without-fault",
        replace("            fault: true\n", ""),
        11,
        "no step has `fault: true`",
    ),
    (
        "two-faults",
        replace("            timeout: 2m\n", "            timeout: 2m\n            fault: true\n"),
        13,
        "2 steps have `fault: true`",
    ),
    ("measure-without-site", replace("    recovery_site: site2\n", ""), 10, "needs the site"),
    (
        "unknown-service",
        replace(
            "title: A scenario to break\n",
            "title: A scenario to break\nservices: [portal, potral]\n",
        ),
        4,
        "unknown service 'potral'",
    ),
    ("name-not-file", replace("name: broken\n", "name: other\n"), 2, "differs from the file"),
    (
        "too-many-retries",
        replace("            timeout: 2m\n", "            timeout: 2m\n            retries: 99\n"),
        30,
        "retries",
    ),
    (
        "unknown-host",
        replace(
            "with: {site: site2}\n            timeout: 2m",
            "with: {site: site2, host: db-09}\n            timeout: 2m",
        ),
        28,
        "unknown host 'db-09'",
    ),
    (
        "unknown-machine",
        replace(
            "with: {site: primary}\n            fault",
            "with: {host: primary-db-09}\n            fault",
        ),
        18,
        "unknown host 'primary-db-09'",
    ),
    ("not-a-mapping", "- a\n- list\n", 1, "not a mapping"),
    ("empty-file", "", 1, "empty"),
    (
        "no-steps",
        replace(
            "      - group: verify\n        steps:\n          - name: healthy\n"
            "            probe: services-healthy\n            with: {site: site2}\n"
            "            timeout: 3m\n",
            "      - group: verify\n        steps: []\n",
        ),
        34,
        "at least 1",
    ),
]


TITLE_LINE = "title: A scenario to break\n"
TIMEOUT_LINE = "            timeout: 2m\n"
DEEP = "[" * 200 + "]" * 200

# The classes of issue 12: durations and numbers in bounds, sites that exist, tags, depth.
BOUNDED_CASES: list[tuple[str, str, int, str]] = [
    (
        "active-site-unknown",
        replace("    measure: true\n", "    measure: true\n    active_site: primry\n"),
        12,
        "unknown site 'primry'",
    ),
    (
        "target-bare-negative",
        replace(TITLE_LINE, TITLE_LINE + "targets: {rto: -300}\n"),
        4,
        "bare number",
    ),
    (
        "target-bare-seconds",
        replace(TITLE_LINE, TITLE_LINE + "targets: {rpo: 60}\n"),
        4,
        "e.g. 60s",
    ),
    ("target-zero", replace(TITLE_LINE, TITLE_LINE + "targets: {rpo: 0s}\n"), 4, "at least 1s"),
    (
        "target-huge",
        replace(TITLE_LINE, TITLE_LINE + "targets: {files_rpo: 99999999999w}\n"),
        4,
        "longest duration",
    ),
    ("timeout-bare", replace(TIMEOUT_LINE, "            timeout: 120\n"), 29, "bare number"),
    (
        "timeout-huge",
        replace(TIMEOUT_LINE, "            timeout: 99999999999w\n"),
        29,
        "longest duration",
    ),
    (
        "retry-delay-bare",
        replace(TIMEOUT_LINE, TIMEOUT_LINE + "            retry_delay: 5\n"),
        30,
        "bare number",
    ),
    (
        "retries-negative",
        replace(TIMEOUT_LINE, TIMEOUT_LINE + "            retries: -1\n"),
        30,
        "greater than or equal to 0",
    ),
    (
        "retries-yes",
        replace(TIMEOUT_LINE, TIMEOUT_LINE + "            retries: yes\n"),
        30,
        "valid integer",
    ),
    (
        "rollback-timeout-zero",
        replace(
            "              with: {site: primary}\n",
            "              with: {site: primary}\n              timeout: 0s\n",
        ),
        23,
        "at least 1s",
    ),
    ("tolerance-nan", replace("{max: 30}", "{max: .nan}"), 8, "finite"),
    ("tolerance-yes", replace("{max: 30}", "{max: yes}"), 8, "valid number"),
    ("tolerance-text", replace("{max: 30}", "{max: '30'}"), 8, "valid number"),
    ("schema-version-yes", replace("schema_version: 1", "schema_version: yes"), 1, "valid integer"),
    (
        "tag-on-mapping",
        replace("    with: {site: site2}\n", "    with: !!omap {site: site2}\n"),
        7,
        "YAML tag '!!omap'",
    ),
    ("tag-on-list", replace("readiness:\n", "readiness: !probes\n"), 4, "YAML tag '!probes'"),
    (
        "deep-nesting",
        replace("    with: {site: site2}\n", f"    with: {{site: site2, x: {DEEP}}}\n"),
        7,
        "nested deeper than 64",
    ),
]
CASES += BOUNDED_CASES


@pytest.mark.parametrize(
    ("text", "line", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_scenario_gives_positioned_message_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, words: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    code = run(["drill", "validate", "-i", INVENTORY, str(path)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    messages = [entry for entry in captured.err.splitlines() if entry.startswith("egov: ")]
    matching = [entry for entry in messages if words in entry]
    assert matching, captured.err
    assert matching[0].startswith(f"egov: {path}:{line}:"), matching[0]


def test_at_least_45_kinds_of_broken_scenario() -> None:
    assert len(CASES) >= 45


def test_the_base_of_the_broken_cases_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert run(["drill", "validate", "-i", INVENTORY, str(path)]) == 0


def test_run_refuses_a_broken_scenario_before_touching_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(replace("action: promote-database", "action: promote-databse"), "utf-8")
    drills = tmp_path / "drills"
    code = run(
        [
            "drill",
            "run",
            "-i",
            INVENTORY,
            str(path),
            "--mode",
            "failover",
            "--drill-dir",
            str(drills),
        ]
    )
    assert code == 2, capsys.readouterr().err
    assert not drills.exists()  # no journal, no lock


def test_a_production_mode_needs_confirm_and_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE, encoding="utf-8")
    drills = tmp_path / "drills"
    code = run(
        [
            "drill",
            "run",
            "-i",
            INVENTORY,
            str(path),
            "--mode",
            "failover",
            "--drill-dir",
            str(drills),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "needs --confirm" in err and "needs --reason" in err
    assert not drills.exists()


def test_an_unknown_mode_and_an_unsupported_mode_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE, encoding="utf-8")
    for mode, words in (("sideways", "no such mode"), ("failback", "has no failback mode")):
        code = run(["drill", "run", "-i", INVENTORY, str(path), "--mode", mode])
        err = capsys.readouterr().err
        assert code == 2 and words in err, err


def test_an_unknown_scenario_name_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["drill", "validate", "-i", INVENTORY, "quarterly-test-failovr"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'quarterly-test-failover'" in err, err


def test_the_shipped_scenarios_are_valid_for_the_lab_and_for_camau() -> None:
    assert run(["drill", "validate", "-i", INVENTORY]) == 0
    camau = str(Path(INVENTORY).with_name("camau.yaml"))
    assert run(["drill", "validate", "-i", camau]) == 0
