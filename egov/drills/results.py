"""A drill's result as a record for the exporter: here and on every monitoring host.

The exporter (``monitoring/exporter.py``) reads ``drills/<scenario>.json`` under its state
directory and publishes ``dr_drill_last_success_timestamp_seconds`` and the last RTO/RPO, so
an overdue or failed quarterly drill alerts like a stale backup. The record also carries the
journal's closing hash and signing key, so both monitoring sites (and their Prometheus
history, ``dr_drill_journal_info``) hold what the journal must end with.
"""

from __future__ import annotations

from pathlib import Path

from egov.drills.remote import Remote
from egov.drills.summary import DrillSummary
from egov.errors import DrillError
from egov.inventory.model import Estate
from egov.records import DEFAULT_STATE_DIR, DrillRecord, Result, read_record, write_record

STATE_GROUP = "egov-state"


def make_drill_record(summary: DrillSummary, previous: DrillRecord | None) -> DrillRecord:
    """The record of ``summary`` (keeping the previous last success when this one failed):
    its result and error are the verdict's (``verdict.judge_drill``), as the report shows."""
    verdict = summary.verdict
    succeeded = verdict.passed
    finished = summary.finished_at or summary.started_at
    return DrillRecord(
        scenario=summary.scenario,
        mode=summary.mode,
        started_at=summary.started_at,
        finished_at=finished,
        result=Result.SUCCESS if succeeded else Result.FAILURE,
        error="; ".join(verdict.reasons)[:500],
        rto_seconds={
            s.service: s.rto_seconds for s in summary.services if s.rto_seconds is not None
        },
        rpo_seconds={
            s.service: s.rpo_seconds for s in summary.services if s.rpo_seconds is not None
        },
        lost_records={
            s.service: s.lost_records for s in summary.services if s.lost_records is not None
        },
        failed_writes={s.service: s.failed_writes for s in summary.services},
        last_success_at=finished if succeeded else (previous.last_success_at if previous else None),
        # kept apart from the control node: a journal rewritten there, even re-signed, no
        # longer ends with the hash both monitoring sites hold
        journal_closing_hash=summary.journal_last_hash if summary.journal_key else "",
        journal_key=summary.journal_key,
    )


def publish(
    summary: DrillSummary, estate: Estate, remote: Remote, state_dir: Path | None
) -> list[str]:
    """Write the record here and on each monitoring host; return the hosts not reached."""
    previous = read_record(DrillRecord, summary.scenario, state_dir)
    record = make_drill_record(summary, previous)
    write_record(record, state_dir)
    text = record.model_dump_json(indent=2)
    directory = DEFAULT_STATE_DIR / DrillRecord.KIND
    target = directory / f"{record.key()}.json"
    script = (
        f"set -e; install -d -m 2750 -g {STATE_GROUP} {directory}; "
        f"cat > {target}.tmp; chgrp {STATE_GROUP} {target}.tmp; chmod 640 {target}.tmp; "
        f"mv {target}.tmp {target}"
    )
    missed = []
    for ref in estate.iter_hosts():
        if "monitoring" not in ref.host.roles:
            continue
        try:
            remote.run(ref, script, input_text=text, timeout_seconds=30)
        except DrillError:
            missed.append(ref.selector)
    return missed
