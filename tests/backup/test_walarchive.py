"""The WAL archive's facts from the inventory, and what the deploy makes of them on both ends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from egov.backup.walarchive import (
    ARCHIVE_ROLE,
    get_archive_timeout,
    get_archived_clusters,
    get_cluster_archives,
    get_host_archives,
    make_passfile,
    make_retention_policy,
    make_server_config,
)
from egov.deploys.database import make_archiver_addresses, make_roles_sql
from egov.deploys.firewall import make_firewall_rules
from egov.deploys.render import render
from egov.inventory import load_estate
from egov.inventory.backup import Retention
from egov.inventory.model import Estate, HostRef

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab() -> Estate:
    return load_estate(ROOT / "inventory" / "lab.yaml").estate


def _host(estate: Estate, selector: str) -> HostRef:
    site, _, name = selector.partition("/")
    ref = estate.find_host(site, name)
    assert ref is not None
    return ref


def test_each_site_store_archives_the_primary_cluster(lab: Estate) -> None:
    pairs = get_archived_clusters(lab)
    assert [(p.archive_host.selector, p.cluster.selector, p.server) for p in pairs] == [
        ("primary/store-01", "primary/db-01", "databases-primary-db-01"),
        ("site2/store-01", "primary/db-01", "databases-primary-db-01"),
    ]
    # one slot per archive host: one that is away holds back only its own WAL
    assert len({pair.slot for pair in pairs}) == 2
    assert get_host_archives(lab, _host(lab, "primary/db-01")) == []
    assert get_host_archives(lab, _host(lab, "site2/store-01")) == [pairs[1]]


def test_replicas_carry_the_same_archive_rules_as_their_primary(lab: Estate) -> None:
    primary = get_cluster_archives(lab, _host(lab, "primary/db-01"))
    assert get_cluster_archives(lab, _host(lab, "site2/db-01")) == primary
    assert make_archiver_addresses(lab, _host(lab, "primary/db-02")) == [
        "10.213.1.30",
        "10.213.3.30",
    ]
    assert get_archive_timeout(lab, _host(lab, "primary/db-01")) == timedelta(seconds=60)


def test_pg_hba_and_conf_let_only_the_archives_in_as_the_archive_role(lab: Estate) -> None:
    hba = render(
        "database/pg_hba.conf.j2",
        replication_peers=[],
        clients=[],
        archivers=["10.213.1.30"],
        archive_role=ARCHIVE_ROLE,
    )
    assert "host    replication  egov_archive  10.213.1.30/32  scram-sha-256" in hba
    assert "host    postgres     egov_archive  10.213.1.30/32  scram-sha-256" in hba
    conf = render("database/egov.conf.j2", port=5432, max_slot_wal_keep="4GB", archive_timeout=60)
    assert "archive_timeout = 60" in conf
    plain = render(
        "database/egov.conf.j2", port=5432, max_slot_wal_keep="4GB", archive_timeout=None
    )
    assert "archive_timeout" not in plain


def test_the_archive_role_replicates_and_backs_up_but_is_no_superuser(lab: Estate) -> None:
    sql = make_roles_sql(lab, _host(lab, "primary/db-01"), "r", "a", "archive'pw")
    assert "ALTER ROLE egov_archive WITH LOGIN REPLICATION PASSWORD 'archive''pw';" in sql
    assert "GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO egov_archive;" in sql
    assert "SUPERUSER" not in sql
    assert "egov_archive" not in make_roles_sql(lab, _host(lab, "primary/db-01"), "r", "a")


def test_the_database_port_opens_to_the_archive_hosts(lab: Estate) -> None:
    rules = make_firewall_rules(lab, _host(lab, "primary/db-01"))
    (postgres,) = [rule for rule in rules if rule.port == 5432]
    assert postgres.sources is not None
    sources = {str(source) for source in postgres.sources}
    assert {"10.213.1.30/32", "10.213.3.30/32"} <= sources


def test_server_config_pulls_through_its_own_slot_without_a_password(lab: Estate) -> None:
    pair = get_archived_clusters(lab)[1]
    dataset = lab.backup.datasets["databases"]
    text = make_server_config(pair, 15, dataset, lab.backup.retention)
    assert "[databases-primary-db-01]" in text
    assert "conninfo = host=10.213.1.20 port=5432 user=egov_archive dbname=postgres" in text
    assert "streaming_archiver = on" in text and "backup_method = postgres" in text
    assert f"slot_name = {pair.slot}" in text and "create_slot = auto" in text
    assert "path_prefix = /usr/lib/postgresql/15/bin" in text
    assert "retention_policy = RECOVERY WINDOW OF 7 DAYS" in text  # the lab's daily: 7
    assert "password" not in text.lower()


def test_passfile_holds_the_password_once_per_cluster(lab: Estate) -> None:
    pairs = get_archived_clusters(lab)
    text = make_passfile(pairs, lambda reference: f"secret-of-{reference.rsplit('/', 1)[-1]}")
    assert text == "10.213.1.20:5432:*:egov_archive:secret-of-pg-archive\n"


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        (Retention(within=timedelta(days=2), daily=7), "RECOVERY WINDOW OF 7 DAYS"),
        (Retention(within=timedelta(days=10), daily=7), "RECOVERY WINDOW OF 10 DAYS"),
        (Retention(within=timedelta(hours=12), daily=0, weekly=4), "RECOVERY WINDOW OF 1 DAYS"),
    ],
)
def test_retention_window_follows_the_backup_retention(retention: Retention, expected: str) -> None:
    assert make_retention_policy(retention) == expected


def _with_archive(tmp_path: Path, archive: dict[str, object], dataset: str = "databases") -> Path:
    data = yaml.safe_load((ROOT / "inventory" / "lab.yaml").read_text())
    data["backup"]["datasets"][dataset]["archive"] = archive
    if dataset != "databases":
        del data["backup"]["datasets"]["databases"]["archive"]
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


@pytest.mark.parametrize(
    ("archive", "dataset", "message"),
    [
        ({"hosts": ["primary/db-02"], "password": "file:/x"}, "databases", "is a database host"),
        ({"hosts": ["primary/nope"], "password": "file:/x"}, "databases", "matches no host"),
        ({"hosts": ["primary/store-01"], "password": "file:/x"}, "files", "not a postgres"),
        (
            {"hosts": ["primary/store-01", "primary/store-01"], "password": "file:/x"},
            "databases",
            "appears twice",
        ),
        ({"hosts": ["primary/store-01"], "password": "file:/x", "rpo": "1s"}, "databases", "10s"),
        ({"hosts": [], "password": "file:/x"}, "databases", "hosts"),
    ],
)
def test_bad_archives_are_refused_by_name(
    tmp_path: Path, archive: dict[str, object], dataset: str, message: str
) -> None:
    from egov.errors import InputError

    with pytest.raises(InputError) as caught:
        load_estate(_with_archive(tmp_path, archive, dataset))
    assert message in str(caught.value)
    assert "estate.yaml:" in str(caught.value)


def test_archive_units_run_as_barman_and_keep_the_stream_up() -> None:
    from egov.deploys.archive import (
        make_backup_service,
        make_cron_units,
        make_receive_wal_service,
    )

    service, timer = make_cron_units(["a", "b"])
    assert "User=barman" in service and "KillMode=process" in service
    # each server's streamed segments are filed in the foreground, before cron
    assert service.index("archive-wal a") < service.index("archive-wal b") < service.index("cron\n")
    assert "OnUnitActiveSec=20s" in timer
    receive = make_receive_wal_service()
    # the stream restarts inside the unit: a restart by systemd would leave a gap in which
    # barman cron starts its own receive-wal and the unit then fails on its lock
    assert (
        "ExecStart=/bin/sh -c 'while :; do /usr/bin/barman receive-wal %i; sleep 5; done'"
        in receive
    )
    backup = make_backup_service(["a"])
    # systemd expands $n itself: the shell's variables must be written $$
    assert "$$((n+1))" in backup and "$n" not in backup.replace("$$n", "")
    assert 'grep -q "WAL archive: FAILED"' in backup
    assert backup.endswith("IOSchedulingPriority=7\n") and "backup --wait all" in backup
