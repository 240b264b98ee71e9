"""``bench/pitr_overhead.py`` and its estate ``inventory/pitr-bench-lab.yaml``: the pure parts
of the bench (its verdict can fail), and an estate that can be up beside the other labs with
disks large enough for 5 GB, whose two hosts' deploys prepare.

The bench itself needs its lab up and runs for half an hour: it lives outside CI.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from egov.backup.walarchive import get_archived_clusters
from egov.cli import run
from egov.deploys.context import WHEELHOUSE_KEY
from egov.deploys.site import apply_roles
from egov.inventory import load_estate
from egov.lab.estate import make_lab_spec
from egov.lab.spec import check_lab_spec
from tests.bench.support import load_bench
from tests.bench.test_scale_lab import with_environment_secrets
from tests.deploys.support import plan_deploy

ROOT = Path(__file__).resolve().parents[2]
BENCH_LAB = ROOT / "inventory" / "pitr-bench-lab.yaml"
OTHER_LABS = ["lab.yaml", "songxanh-lab.yaml", "scale-lab.yaml"]
bench = load_bench("pitr_overhead")


def test_the_verdict_fails_over_the_target_and_passes_under_it() -> None:
    over = bench.Phase("base backup", egov=[10.6, 10.7, 99.0], bare=[10.0, 10.1, 9.0])
    under = bench.Phase("point-in-time restore", egov=[10.4, 10.5, 10.3], bare=[10.0, 10.1, 10.2])
    verdicts = bench.judge([over, under])
    assert [passed for passed, _ in verdicts] == [False, True]
    assert "base backup: egov / bare = 1.070 (target ≤ 1.05)" in verdicts[0][1]
    assert bench.format_row(under) == "| point-in-time restore | 10.40 s | 10.10 s | 1.030 | 3 |"


def test_the_sides_take_turns_going_first() -> None:
    assert [bench.get_side_order(index) for index in range(3)] == [
        ("egov", "bare"),
        ("bare", "egov"),
        ("egov", "bare"),
    ]


def test_ssh_is_strict_about_host_keys_and_never_asks() -> None:
    argv = bench.make_ssh_argv("10.213.31.30", "true")
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    assert argv[-2:] == ["root@10.213.31.30", "true"]


@pytest.mark.parametrize("text", ["0", "-3", "three", "1e3", "20000"])
def test_a_bad_count_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bench.parse_positive(text)


def test_the_bench_estate_matches_the_bench(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["inventory", "validate", "-i", str(BENCH_LAB)]) == 0
    assert "valid — estate pitr-bench-lab (lab), 1 sites, 2 hosts" in capsys.readouterr().out
    estate = load_estate(BENCH_LAB).estate
    [pair] = get_archived_clusters(estate)
    assert (pair.server, pair.slot) == (bench.SERVER, bench.SLOT)
    assert str(pair.cluster.host.address) == bench.DATABASE_HOST
    assert str(pair.archive_host.host.address) == bench.ARCHIVE_HOST
    assert estate.backup.datasets["databases"].sanity_queries == [bench.SANITY_QUERY]


def test_the_bench_estate_is_a_lab_beside_the_others_with_large_disks() -> None:
    spec = make_lab_spec(load_estate(BENCH_LAB).estate)
    others = [make_lab_spec(load_estate(ROOT / "inventory" / name).estate) for name in OTHER_LABS]
    check_lab_spec(spec, [site.network for other in others for site in other.sites])
    assert {host.machine: host.disk_bytes // 1024**3 for host in spec.hosts} == {
        "bench-pg-1": 24,
        "bench-bk-1": 48,
    }


def test_both_hosts_of_the_bench_estate_prepare_under_site_py(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    estate = with_environment_secrets(load_estate(BENCH_LAB).estate, monkeypatch)
    wheelhouse = tmp_path / "egov-wheelhouse.tar"
    wheelhouse.write_bytes(b"only its digest is read while preparing")
    for selector in ("bench/pg-1", "bench/bk-1"):
        names, _ = plan_deploy(estate, selector, apply_roles, {WHEELHOUSE_KEY: str(wheelhouse)})
        assert names, selector
