"""Deploy results: exit codes and the JSON report."""

from __future__ import annotations

import json

from egov.deploys.recap import DeployResult, HostOutcome, HostStatus


def result(*statuses: HostStatus, dry_run: bool = False, changes: int = 0) -> DeployResult:
    hosts = [
        HostOutcome(name=f"h{i}", status=s, changed=["op"] * changes)
        for i, s in enumerate(statuses)
    ]
    return DeployResult(hosts=hosts, dry_run=dry_run, seconds=1.0)


def test_exit_codes() -> None:
    assert result(HostStatus.OK, HostStatus.CHANGED).exit_code() == 0
    assert result(HostStatus.OK, HostStatus.UNREACHABLE).exit_code() == 1
    assert result(HostStatus.FAILED).exit_code() == 1
    assert result(HostStatus.CHANGED, dry_run=True, changes=2).exit_code() == 3
    assert result(HostStatus.OK, dry_run=True).exit_code() == 0


def test_json_report_lists_each_host() -> None:
    report = result(HostStatus.OK, HostStatus.UNREACHABLE).to_json()
    assert report["failed_hosts"] == ["h1"]
    assert report["hosts"][1]["status"] == "unreachable"
    json.dumps(report)
