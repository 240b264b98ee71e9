"""Reading the agents' backup records from their hosts: the parse, and which hosts are asked.

SSH to the hosts runs on the lab only; here the runner is replaced by one that answers what
a host's ``cat`` would print (the one thing mocked: production talks to real hosts).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from egov.backup.hostrecords import (
    fetch_backup_records,
    get_backup_hosts,
    make_read_records_command,
    parse_backup_records,
)
from egov.errors import CommandFailed, InputError
from egov.inventory import load_estate
from tests.backup.conftest import LAB
from tests.backup.test_plan import CAMAU, files_record


def test_records_one_after_the_other_are_parsed_and_junk_skipped() -> None:
    record = files_record(seconds=60)
    text = record.model_dump_json(indent=1) + "\n{not json\n" + '{"dataset": 1}' + "\n"
    text += record.model_copy(update={"dataset": "etc"}).model_dump_json()
    parsed = parse_backup_records(text)
    assert [r.dataset for r in parsed] == ["files", "etc"]
    assert parse_backup_records("") == []


def test_the_command_only_reads() -> None:
    argv = make_read_records_command()
    assert argv[:2] == ("sh", "-c") and argv[2].startswith("cat /var/lib/egov/state/backup/")


def test_each_backup_host_is_asked_once_and_a_silent_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate = load_estate(LAB).estate
    monkeypatch.setattr("egov.backup.hostrecords.check_ssh_files", lambda *_: None)
    asked: list[str] = []
    record = files_record(seconds=60)
    store = estate.find_host("primary", "store-01")
    assert store is not None

    def run(argv: Sequence[str]) -> str:
        target = argv[-2]
        asked.append(target)
        if len(asked) == 1 and not target.endswith(str(store.host.address)):
            raise CommandFailed(argv, 255, "ssh: connect to host: Connection refused")
        # every host answers with the store's record: only the store's own is kept
        return record.model_dump_json()

    fetched = fetch_backup_records(estate, run)
    hosts = get_backup_hosts(estate)
    assert len(asked) == len(hosts) == len(set(asked))
    assert [r.host for r in fetched.records] == ["primary-store-01"]
    assert len(fetched.unreachable) == 1 and "Connection refused" in fetched.unreachable[0]


def test_placeholder_addresses_are_refused_before_any_connection() -> None:
    estate = load_estate(CAMAU).estate

    def run(argv: Sequence[str]) -> str:
        raise AssertionError("connected")

    with pytest.raises(InputError, match="placeholder"):
        fetch_backup_records(estate, run)
