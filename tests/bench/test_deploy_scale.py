"""bench/deploy_scale.py's pure parts: which hosts a count deploys, the two sides' command
lines, pyinfra's summary, the rows, the growth and the verdicts; and its refusal to run
without the lab (in-process, with the lab's state pointed at an empty directory)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from egov.inventory import load_estate
from egov.inventory.model import Estate, HostRef
from egov.lab.overview import HostStatus, LabStatus, SiteStatus
from egov.lab.paths import STATE_DIR_ENV
from egov.lab.state import Fault
from tests.bench.support import load_bench

deploy_scale = load_bench("deploy_scale")
ROOT = Path(__file__).resolve().parents[2]
SCALE_LAB = ROOT / "inventory" / "scale-lab.yaml"
LAB = ROOT / "inventory" / "lab.yaml"
BOLD, GREEN, RESET = "\x1b[1m", "\x1b[32m", "\x1b[0m"


@pytest.fixture(scope="module")
def scale() -> Estate:
    return load_estate(SCALE_LAB).estate


def selected(estate: Estate, count: int) -> list[HostRef]:
    hosts: list[HostRef] = deploy_scale.select_hosts_for_count(list(estate.iter_hosts()), count)
    return hosts


def names(hosts: list[HostRef]) -> list[str]:
    return [ref.selector for ref in hosts]


def roles(hosts: list[HostRef]) -> Counter[str]:
    return Counter(role for ref in hosts for role in ref.host.roles)


def test_a_count_takes_each_sites_share_from_its_first_hosts(scale: Estate) -> None:
    hosts = selected(scale, 14)
    assert names(hosts) == [
        "dong/lb-1",
        "dong/mon-1",
        "dong/store-1",
        "dong/pg-1",
        "dong/pg-1b",
        "dong/datdai-1",
        "dong/hotich-1",
        "dong/dautu-1",
        "dong/vanban-1",
        "tay/pg-1",
        "tay/datdai-1",
        "tay/hotich-1",
        "tay/dautu-1",
        "tay/vanban-1",
    ]
    assert Counter(ref.site for ref in selected(scale, 28)) == {"dong": 18, "tay": 10}
    assert selected(scale, 42) == list(scale.iter_hosts())


def test_selections_grow_by_adding_hosts(scale: Estate) -> None:
    small, middle, large = (set(names(selected(scale, count))) for count in (14, 28, 42))
    assert small < middle < large


def test_28_and_42_hosts_are_two_and_three_times_the_mix_of_14(scale: Estate) -> None:
    mix = roles(selected(scale, 14))
    assert mix == {"app": 8, "db-replica": 2, "lb": 1, "monitoring": 1, "storage": 1, "db": 1}
    assert roles(selected(scale, 28)) == {role: 2 * number for role, number in mix.items()}
    assert roles(selected(scale, 42)) == {role: 3 * number for role, number in mix.items()}


def test_an_uneven_share_goes_by_largest_remainder_then_site_order(lab_estate: Estate) -> None:
    # 9, 1 and 4 hosts: 7 of 14 is 4.5, 0.5 and 2 by share; the half goes to the first site
    hosts = selected(lab_estate, 7)
    assert Counter(ref.site for ref in hosts) == {"primary": 5, "site2": 2}
    assert names(hosts) == [
        "primary/lb-01",
        "primary/portal-01",
        "primary/portal-02",
        "primary/motcua-01",
        "primary/motcua-02",
        "site2/app-01",
        "site2/db-01",
    ]


@pytest.mark.parametrize("count", [0, 43])
def test_a_count_outside_the_inventory_is_refused(scale: Estate, count: int) -> None:
    with pytest.raises(ValueError, match="the inventory has 42"):
        selected(scale, count)


def test_the_selection_is_described_by_site_and_role(scale: Estate) -> None:
    assert deploy_scale.describe_selection(selected(scale, 14)) == (
        "14 hosts (dong 9, tay 5); roles: app 8, db-replica 2, lb 1, monitoring 1, storage 1, db 1"
    )


def test_both_sides_deploy_the_same_hosts_by_their_own_names(scale: Estate) -> None:
    hosts = selected(scale, 14)[:2]
    egov = deploy_scale.make_egov_argv(Path("/v/egov"), SCALE_LAB, hosts)
    assert egov == [
        "/v/egov",
        "deploy",
        "-i",
        str(SCALE_LAB),
        "--limit",
        "dong/lb-1",
        "--limit",
        "dong/mon-1",
        "--output",
        "json",
    ]
    pyinfra = deploy_scale.make_pyinfra_argv(Path("/v/pyinfra"), hosts, {"egov_x": "/w.tar"})
    assert pyinfra == [
        "/v/pyinfra",
        "-y",
        "--limit",
        "dong-lb-1",
        "--limit",
        "dong-mon-1",
        "--data",
        "egov_x=/w.tar",
        str(ROOT / "egov" / "deploys" / "pyinfra_inventory.py"),
        str(ROOT / "egov" / "deploys" / "site.py"),
    ]
    assert "--data" not in deploy_scale.make_pyinfra_argv(Path("/v/pyinfra"), hosts)


def test_the_side_going_first_alternates() -> None:
    orders = [deploy_scale.get_side_order(run) for run in range(4)]
    assert orders == [("egov", "pyinfra"), ("pyinfra", "egov")] * 2


def pyinfra_results(operations: str, changed: str, errors: str, unchanged: str) -> str:
    """pyinfra 3.10's results as its CLI logs them (``print_rows``: columns padded to the
    widest plus 4, each line indented by the log formatter). Written out, not generated:
    importing ``pyinfra_cli`` monkey-patches the process with gevent."""
    total = f"{operations:<8}{changed:<10}{errors:<8}{unchanged:<12}"
    return (
        "--> Results:\n"
        "    Operation                          Hosts   Success   Error   No Change   \n"
        f"    {BOLD}base | Install the base packages{RESET}   14      -         -       14"
        "          \n"
        f"    Grand total                        {total}\n"
    )


def test_pyinfras_grand_total_reads_dashes_as_zero() -> None:
    totals = deploy_scale.parse_pyinfra_totals(pyinfra_results("640", "-", "-", "640"))
    assert totals == deploy_scale.PyinfraTotals(operations=640, changed=0, errors=0, unchanged=640)


def test_pyinfras_grand_total_counts_changes_and_errors() -> None:
    totals = deploy_scale.parse_pyinfra_totals(pyinfra_results("640", "3", "1", "636"))
    assert (totals.changed, totals.errors) == (3, 1)


def test_pyinfra_output_without_a_grand_total_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Grand total"):
        deploy_scale.parse_pyinfra_totals("--> Connecting to hosts...\n")


def test_the_hosts_pyinfra_connected_to_are_read_from_its_log() -> None:
    output = (
        "--> Connecting to hosts...\n"
        f"    {RESET}[{BOLD}dong-lb-1{RESET}]   {GREEN}Connected{RESET}\n"
        f"    {RESET}[{BOLD}tay-datdai-1{RESET}] {GREEN}Connected{RESET}\n"
        "    [dong-pg-1] Could not connect (timed out)\n"
    )
    assert deploy_scale.parse_pyinfra_connected(output) == {"dong-lb-1", "tay-datdai-1"}


def test_a_count_gives_medians_their_ratio_and_seconds_per_host() -> None:
    count = deploy_scale.Count(14, [30.0, 10.0, 20.0], [10.0, 40.0, 16.0])
    assert (count.median("egov"), count.median("pyinfra")) == (20.0, 16.0)
    assert count.ratio() == 1.25
    assert count.per_host("egov") == pytest.approx(20 / 14)
    assert (
        deploy_scale.format_row(count) == "| 14 | 20.00 s | 16.00 s | 1.250 | 1.429 s | 1.143 s |"
    )


def test_growth_is_of_time_and_time_per_host_for_both_sides() -> None:
    before = deploy_scale.Count(14, [14.0], [14.0])
    after = deploy_scale.Count(28, [21.0], [28.0])
    assert deploy_scale.format_growth(before, after) == (
        "growth 14 → 28 hosts (×2): egov ×1.50, per host ×0.75; pyinfra ×2.00, per host ×1.00"
    )


def passing_counts() -> list[Any]:
    return [
        deploy_scale.Count(14, [15.0], [14.0]),
        deploy_scale.Count(28, [25.0], [24.0]),
        deploy_scale.Count(42, [36.0], [34.0]),
    ]


def test_targets_met_pass() -> None:
    verdicts = deploy_scale.judge(passing_counts())
    assert [passed for passed, _ in verdicts] == [True] * 5
    assert verdicts[0][1] == "no-op re-deploy at 14 hosts ≤ 1.10 × plain pyinfra: 1.071"
    assert verdicts[3][1] == (
        "egov's seconds per host falling or flat (≤ ×1.10) from 14 to 28 hosts: ×0.83"
    )


def test_an_overhead_over_ten_percent_fails_at_that_count() -> None:
    counts = passing_counts()
    counts[1] = deploy_scale.Count(28, [27.0], [24.0])  # 1.125
    verdicts = deploy_scale.judge(counts)
    assert [passed for passed, _ in verdicts[:3]] == [True, False, True]
    assert verdicts[1][1].endswith(": 1.125")


def test_time_per_host_growing_fails() -> None:
    counts = passing_counts()
    counts[2] = deploy_scale.Count(42, [41.0], [40.0])  # per host 0.976 after 0.893: ×1.09
    assert all(passed for passed, _ in deploy_scale.judge(counts))
    counts[2] = deploy_scale.Count(42, [42.0], [40.0])  # per host 1.0 after 0.893: ×1.12
    verdicts = deploy_scale.judge(counts)
    assert verdicts[4] == (
        False,
        "egov's seconds per host falling or flat (≤ ×1.10) from 28 to 42 hosts: ×1.12",
    )


def make_status(
    running: bool = True, ssh: bool | None = True, link: str = "up", faults: tuple[Fault, ...] = ()
) -> LabStatus:
    hosts = (
        HostStatus("dong-lb-1", "dong", "lb-1", "10.213.21.10", ("lb",), True, True),
        HostStatus("tay-pg-1", "tay", "pg-1", "10.213.22.21", ("db-replica",), running, ssh),
    )
    sites = (
        SiteStatus("dong", "10.213.21.0/24", "egv-dong-1a2b", "up", None),
        SiteStatus("tay", "10.213.22.0/24", "egv-tay-3c4d", link, None),
    )
    return LabStatus("scale-lab", "key", "ready", hosts, sites, faults, {})


def test_a_lab_up_and_quiet_has_no_problem() -> None:
    assert deploy_scale.find_lab_problems(make_status()) == []


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        (make_status(running=False, ssh=None), "hosts not running: tay-pg-1"),
        (make_status(ssh=False), "hosts not answering SSH: tay-pg-1"),
        (make_status(link="cut"), "site links not up: tay (cut)"),
        (make_status(link="absent"), "site links not up: tay (absent)"),
        (
            make_status(faults=(Fault("shape-link", "tay", {"rate_kbit": "8000"}),)),
            "faults in force: shape-link tay",
        ),
    ],
    ids=["stopped", "no-ssh", "cut", "no-bridge", "fault"],
)
def test_a_lab_not_ready_is_named(status: LabStatus, problem: str) -> None:
    assert deploy_scale.find_lab_problems(status) == [problem]


@pytest.mark.parametrize(
    ("text", "counts"), [("14,28,42", (14, 28, 42)), ("42,14,14", (14, 42)), ("7", (7,))]
)
def test_counts_are_parsed_ascending(text: str, counts: tuple[int, ...]) -> None:
    assert deploy_scale.parse_counts(text) == counts


@pytest.mark.parametrize("text", ["0,14", "many", ""])
def test_bad_counts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        deploy_scale.parse_counts(text)


def run_bench(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        deploy_scale.main(arguments)
    code = stopped.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


@pytest.fixture
def no_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The lab's state in an empty directory: no lab is up (nothing of the real one is read)."""
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path))
    return tmp_path


def test_the_bench_refuses_to_run_without_the_lab(
    no_lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_bench(["-i", str(SCALE_LAB), "--repeat", "1"], capsys)
    assert code == 2
    assert "the lab of estate scale-lab" in err
    assert f"is not up: no lab state in {no_lab / 'estates' / 'scale-lab'}" in err
    assert f"bring it up first: egov lab up -i {SCALE_LAB}" in err


@pytest.mark.parametrize(
    ("arguments", "messages"),
    [
        (
            ["-i", str(ROOT / "inventory" / "camau.yaml")],
            ["is a production inventory, not a lab"],
        ),
        (
            ["-i", str(SCALE_LAB), "--hosts", "14,50"],
            [f"--hosts 50: {SCALE_LAB} has 42 hosts", "give counts between 1 and 42"],
        ),
        (["-i", str(SCALE_LAB), "--repeat", "0"], ["--repeat 0: no run to time"]),
        (["-i", str(ROOT / "inventory" / "absent.yaml")], ["absent.yaml"]),
    ],
    ids=["production", "too-many-hosts", "no-repeat", "missing-inventory"],
)
def test_the_bench_refuses_bad_input_before_looking_at_the_lab(
    no_lab: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], messages: list[str]
) -> None:
    code, err = run_bench(arguments, capsys)
    assert code == 2
    assert all(message in err for message in messages), err
    assert "the lab of estate" not in err
