"""The audit log on the control node: one JSON line per deploy (later: per drill).

Who ran what, when, against which hosts, and what changed; never a secret (the records hold
operation names and statuses, not file contents or command output).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from egov.hostlayout import AUDIT_LOG_FILE

AUDIT_LOG_ENVIRONMENT_VARIABLE = "EGOV_AUDIT_LOG"
DEFAULT_AUDIT_LOG = Path(AUDIT_LOG_FILE)
AUDIT_FILE_MODE = 0o640


def get_audit_log_path() -> Path:
    """Where audit records go: ``$EGOV_AUDIT_LOG`` or /var/log/egov/audit.jsonl."""
    return Path(os.environ.get(AUDIT_LOG_ENVIRONMENT_VARIABLE, str(DEFAULT_AUDIT_LOG)))


def get_operator() -> str:
    """The person behind the run: the sudo caller if any, else the login user."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def make_record(action: str, details: dict[str, Any]) -> dict[str, Any]:
    """One audit record."""
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "operator": get_operator(),
        "control_node": socket.gethostname(),
        "action": action,
        **details,
    }


def append_record(record: dict[str, Any], path: Path | None = None) -> Path:
    """Append ``record`` as one line (O_APPEND: concurrent runs never interleave a line)."""
    path = path or get_audit_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, AUDIT_FILE_MODE)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)
    return path
