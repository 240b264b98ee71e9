"""The baseline of ``backup_status.py``: the same freshness answer, straight from restic.

    python bench/plain_status.py PLAN.json

A plain script (standard library and restic only) that answers what ``egov backup status``
answers about freshness without egov's records: for each repository of the plan it runs
``restic snapshots --json`` (the command egov's catalog refresh runs), keeps the newest
``egov`` snapshot per dataset and host, and prints one row per dataset and repository:
hosts present, newest snapshot, the stalest host's newest snapshot, and whether that is
within the limit the plan gives (the dataset's target plus its grace, as egov computes it
from the inventory; the plan is written once, like an administrator's configuration).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

_TIME = re.compile(r"^(?P<base>[^.]+?)(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d)$")


def parse_time(text: str) -> float:
    """restic's RFC 3339 time (nanoseconds allowed) as epoch seconds."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not a restic time: {text!r}")
    fraction = (match["fraction"] or "")[:7]
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    return datetime.fromisoformat(match["base"] + fraction + zone).timestamp()


def main() -> int:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    now = time.time()
    latest: dict[str, dict[tuple[str, str], float]] = {}
    for name, repository in plan["repositories"].items():
        listed = subprocess.run(
            ["restic", "snapshots", "--json"],
            env=repository["environment"],
            check=True,
            capture_output=True,
        ).stdout
        newest: dict[tuple[str, str], float] = {}
        for snapshot in json.loads(listed):
            tags = snapshot.get("tags") or []
            datasets = [tag[len("dataset:") :] for tag in tags if tag.startswith("dataset:")]
            if "egov" not in tags or not datasets:
                continue
            key = (datasets[0], snapshot.get("hostname", ""))
            taken = parse_time(snapshot["time"])
            if taken > newest.get(key, float("-inf")):
                newest[key] = taken
        latest[name] = newest
    rows = []
    for row in plan["rows"]:
        newest = latest[row["repository"]]
        times = [
            newest[(row["dataset"], host)]
            for host in row["hosts"]
            if (row["dataset"], host) in newest
        ]
        oldest = min(times) if times and len(times) == len(row["hosts"]) else None
        rows.append(
            {
                "dataset": row["dataset"],
                "repository": row["repository"],
                "hosts_present": len(times),
                "last_snapshot_at": max(times) if times else None,
                "oldest_host_snapshot_at": oldest,
                "fresh": oldest is not None and now - oldest <= row["fresh_within_seconds"],
            }
        )
    json.dump(rows, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
