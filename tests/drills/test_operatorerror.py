"""The ``operator-error`` drill's pieces that need no host: its readiness probe judging the
recovery site's archive (the archive hosts' metrics served from a string, as
``tests/backup/test_archivestatus.py`` does), its refusals, and the error's SQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from egov.backup import archivestatus
from egov.backup.archivemetrics import make_archive_registry
from egov.backup.archivestate import ServerState
from egov.drills import probes
from egov.drills.context import DrillContext
from egov.drills.journal import Journal
from egov.drills.operatorerror import (
    ArchiveArguments,
    SiteArguments,
    destroy_drill_data,
    is_archive_within_target,
    make_error_sql,
    restore_test_database,
)
from egov.drills.remote import Remote
from egov.drills.scenario import Mode
from egov.errors import DrillError
from egov.inventory import load_estate
from egov.inventory.model import Estate
from tests.drills.support import LAB_INVENTORY

SERVER = "databases-primary-db-01"
NOW = 2_000_000_000.0


@pytest.fixture
def context(tmp_path: Path) -> tuple[DrillContext, list[str]]:
    estate: Estate = load_estate(LAB_INVENTORY).estate
    messages: list[str] = []
    context = DrillContext(
        estate=estate,
        remote=Remote(estate),
        journal=Journal.create(tmp_path / "journal.jsonl"),
        mode=Mode.TEST,
        services=list(estate.services),
        targets={},
        progress=messages.append,
        clock=lambda: NOW,
    )
    return context, messages


def _exposition(**values: object) -> str:
    from prometheus_client import generate_latest

    state = ServerState(
        SERVER, "databases", "site2", "site2-store-01",
        last_wal_at=NOW - 40, first_wal_at=NOW - 86400, stream_at=NOW - 1,
        last_base_backup_at=NOW - 3600, base_backups=1, collected_at=NOW,
        checks=(("postgresql", True),),
    )  # fmt: skip
    return generate_latest(make_archive_registry([replace(state, **values)])).decode()  # type: ignore[arg-type]


def _serve(monkeypatch: pytest.MonkeyPatch, pages: dict[str, str]) -> None:
    """Each archive host's page by its address; a host not in ``pages`` does not answer."""

    def read(url: str) -> str:
        for address, page in pages.items():
            if f"//{address}:" in url:
                return page
        raise OSError("timed out")

    monkeypatch.setattr(archivestatus, "_read_url", read)


def test_a_current_archive_at_the_recovery_site_lets_the_drill_start(
    context: tuple[DrillContext, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    drill, messages = context
    _serve(monkeypatch, {"10.213.3.30": _exposition()})  # site2/store-01 only: the one judged
    assert is_archive_within_target(drill, ArchiveArguments(site="site2"))
    assert messages == [f"the WAL archive {SERVER} on site2-store-01: newest WAL 40 s old"]


def test_a_stale_archive_refuses_the_drill_and_is_named(
    context: tuple[DrillContext, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    drill, messages = context
    _serve(monkeypatch, {"10.213.3.30": _exposition(last_wal_at=NOW - 300)})
    assert not is_archive_within_target(drill, ArchiveArguments(site="site2"))
    assert messages == [
        f"the WAL archive {SERVER} on site2-store-01 is stale: newest WAL 300 s old, over its "
        "limit of 90 s (RPO 60 s)"
    ]


def test_an_archive_host_that_does_not_answer_refuses_the_drill(
    context: tuple[DrillContext, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    drill, messages = context
    _serve(monkeypatch, {})
    assert not is_archive_within_target(drill, ArchiveArguments(site="site2"))
    assert messages[0].startswith(f"the WAL archive {SERVER} on site2-store-01 does not answer")


def test_a_site_without_an_archive_is_a_drill_error(
    context: tuple[DrillContext, list[str]],
) -> None:
    drill, _ = context
    with pytest.raises(DrillError, match="archived at no host of site vnpt"):
        is_archive_within_target(drill, ArchiveArguments(site="vnpt"))


def test_the_error_needs_the_canarys_records_and_the_recovery_needs_the_error(
    context: tuple[DrillContext, list[str]],
) -> None:
    drill, _ = context  # no canary: nothing of the drill's to destroy, nothing run on a host
    with pytest.raises(DrillError, match="acknowledged no record"):
        destroy_drill_data(drill, SiteArguments(site="primary"))
    with pytest.raises(DrillError, match="no point to recover to"):
        restore_test_database(drill, probes.TestDatabaseArguments(site="site2", host="store-01"))


def test_the_error_deletes_only_the_drills_records_and_table_in_one_transaction() -> None:
    sql = make_error_sql(1_765_000_000_123)
    assert sql.startswith("BEGIN; ") and sql.endswith("COMMIT;")
    assert "DELETE FROM egov_canary WHERE seq >= 1765000000123" in sql
    assert "DROP TABLE egov_drill_dossiers;" in sql
