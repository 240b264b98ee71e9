"""The audit log: one JSON line per run, appended."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from egov.deploys.audit import append_record, make_record


def test_records_are_appended_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "log" / "audit.jsonl"
    append_record(make_record("deploy", {"estate": "x", "exit_code": 0}), path)
    append_record(make_record("deploy", {"estate": "x", "exit_code": 1}), path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["exit_code"] for line in lines] == [0, 1]
    assert {"time", "operator", "control_node", "action"} <= set(lines[0])
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0
