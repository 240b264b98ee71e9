"""The backup records the agents keep on their own hosts, fetched over SSH for the plan.

Each agent writes ``backup/<dataset>@<host>.json`` under the host's state directory; the
control node holds only its own and the replication's. ``egov backup plan --from-hosts``
reads the others with one ``cat`` per host (read-only, nothing started). A host that does
not answer is named and skipped: its datasets fall back to the declared estimates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from egov.errors import CommandFailed
from egov.execute import run_command
from egov.hostlayout import STATE_DIRECTORY
from egov.inventory.derive import get_dataset_hosts
from egov.inventory.model import Estate, HostRef
from egov.inventory.pyinfra_bridge import check_connectable, check_ssh_files
from egov.records import BackupRecord
from egov.ssh import make_ssh_command

SSH_READ_TIMEOUT_SECONDS = 30.0
#: More than a host's records ever hold (a few hundred bytes per dataset): the bound stops
#: a misbehaving host from filling the control node's memory.
MAX_RECORDS_CHARACTERS = 1_000_000

Runner = Callable[[Sequence[str]], str]


def make_read_records_command() -> tuple[str, ...]:
    """What runs on the host: every backup record, one after the other (none: nothing)."""
    return ("sh", "-c", f"cat {STATE_DIRECTORY}/backup/*.json 2>/dev/null; true")


def parse_backup_records(text: str) -> list[BackupRecord]:
    """The records in ``text`` (JSON documents one after the other); unreadable ones are
    skipped, as ``records.read_records`` skips an unreadable file."""
    decoder = json.JSONDecoder()
    records: list[BackupRecord] = []
    position = 0
    text = text[:MAX_RECORDS_CHARACTERS]
    while True:
        start = text.find("{", position)
        if start < 0:
            return records
        try:
            value, position = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        try:
            records.append(BackupRecord.model_validate(value))
        except ValidationError:
            continue


def _run_over_ssh(argv: Sequence[str]) -> str:
    return run_command(argv, timeout_seconds=SSH_READ_TIMEOUT_SECONDS).stdout


@dataclass(frozen=True)
class FetchedRecords:
    """The records read from the hosts, and the hosts that could not be read."""

    records: list[BackupRecord]
    unreachable: list[str]


def get_backup_hosts(estate: Estate) -> list[HostRef]:
    """Every active host that backs up a dataset, once, in inventory order."""
    hosts: dict[str, HostRef] = {}
    for name in estate.backup.datasets:
        for ref in get_dataset_hosts(estate, name):
            hosts.setdefault(ref.qualified_name, ref)
    return list(hosts.values())


def fetch_backup_records(estate: Estate, run: Runner = _run_over_ssh) -> FetchedRecords:
    """Read the backup records of every host that backs something up.

    Raise InputError before any connection when a host's address is a placeholder or the
    SSH key or known_hosts file is missing.
    """
    hosts = get_backup_hosts(estate)
    check_connectable(hosts)
    check_ssh_files(estate, hosts)
    records: list[BackupRecord] = []
    unreachable = []
    for ref in hosts:
        try:
            text = run(make_ssh_command(estate, ref, make_read_records_command()))
        except CommandFailed as error:
            unreachable.append(f"{ref.selector}: {error.stderr_tail.strip()[-200:]}")
            continue
        records += [r for r in parse_backup_records(text) if r.host == ref.qualified_name]
    return FetchedRecords(records, unreachable)
