"""Benchmark: the no-op re-deploy at 14, 28 and 42 hosts, `egov deploy` vs the plain pyinfra CLI.

Target (issue 17): a no-op re-deploy ≤ 1.10 × plain pyinfra at 14, 28 and 42 hosts, and egov's
time per host falling or flat (≤ ×1.10) as the hosts grow.

Run as root with the lab of the inventory up (``egov lab up -i inventory/scale-lab.yaml``);
the bench refuses (exit 2) when it is not, and changes nothing on the lab itself:

    .venv/bin/python bench/deploy_scale.py [-i inventory/scale-lab.yaml] [--hosts 14,28,42]
        [--repeat 5]

First one full ``egov deploy`` of every host of the inventory, so that every run after it is
a no-op (it is timed and printed: on a freshly brought-up lab it is the first deploy). Then,
for each count N, the same N hosts are re-deployed ``--repeat`` times by each side, the side
going first alternating from run to run:

- egov: ``egov deploy -i INVENTORY --limit site/host … --output json``, a process of its own,
  timed whole (interpreter, imports, the wheelhouse's cache check and the audit record
  included, as an operator pays them); every run must report 0 changes and no failed host.
- plain pyinfra: ``pyinfra -y --limit site-host … egov/deploys/pyinfra_inventory.py
  egov/deploys/site.py``, the pyinfra CLI running the same deploy file over the same inventory
  and host data (``pyinfra_inventory.py`` builds them from the egov inventory), the same agent
  wheelhouse (``EGOV_WHEELHOUSE``) and, when an objectstore host is deployed, the same object
  store wheelhouse (``--data``): the approach of ``bench/deploy.py``. Its summary must show no
  change and no error, and it must have connected to exactly the N hosts.

"Same work" is exact: both sides deploy the same hosts of the one estate (the host
configurations derive from the whole inventory, whatever the selection), so a run at 14 hosts
does, host for host, what the run at 42 does for those 14. The N hosts are the first N/42 of
each site, in inventory order (``select_hosts_for_count``); ``inventory/scale-lab.yaml`` lists
each site's hosts in three tranches of the same mix, so 14, 28 and 42 hosts have the same
roles in the same proportions.

Prints each run (with the load average: the machine may be shared), a row per count (medians,
the ratio, seconds per host), the growth from one count to the next, and PASS/FAIL per target.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from egov.errors import EgovError
from egov.inventory import load_estate
from egov.inventory.model import Estate, HostRef
from egov.lab.estate import make_lab_spec
from egov.lab.overview import LabStatus, lab_status
from egov.lab.paths import get_estate_dir
from egov.lab.spec import LabSpec
from egov.lab.state import load_state

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_INVENTORY = ROOT / "inventory" / "scale-lab.yaml"
PYINFRA_INVENTORY = ROOT / "egov" / "deploys" / "pyinfra_inventory.py"
SITE_DEPLOY = ROOT / "egov" / "deploys" / "site.py"
DEFAULT_COUNTS = (14, 28, 42)
OVERHEAD_TARGET = 1.10  # egov's median / plain pyinfra's, at every count
FLAT_TOLERANCE = 1.10  # "falling or flat": egov's seconds per host grow at most ×1.10
SIDES = ("egov", "pyinfra")
SETTLE_DEPLOYS = 2  # full deploys before the timed runs, the last of which must change nothing
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CONNECTED = re.compile(r"^\[([^\]\s]+)\]\s+Connected\s*$")


@dataclass
class Count:
    """The runs at one number of hosts: seconds of each side's no-op re-deploys."""

    hosts: int
    egov: list[float] = field(default_factory=list)
    pyinfra: list[float] = field(default_factory=list)

    def median(self, side: str) -> float:
        """The median seconds of ``side`` (``egov`` or ``pyinfra``)."""
        return statistics.median(self.egov if side == "egov" else self.pyinfra)

    def ratio(self) -> float:
        """egov's median over plain pyinfra's."""
        return self.median("egov") / self.median("pyinfra")

    def per_host(self, side: str) -> float:
        """``side``'s median seconds per deployed host."""
        return self.median(side) / self.hosts


@dataclass(frozen=True)
class PyinfraTotals:
    """The "Grand total" row pyinfra prints after a deploy: host × operation counts."""

    operations: int
    changed: int
    errors: int
    unchanged: int


def select_hosts_for_count(hosts: Sequence[HostRef], count: int) -> list[HostRef]:
    """The ``count`` hosts a run deploys: the first of each site in inventory order, each
    site giving its share of ``count`` (largest remainder, ties to the earlier site), in
    inventory order. Selections grow by adding hosts: 14 ⊂ 28 ⊂ 42.

    >>> # 27 hosts at dong, 15 at tay: 14 → the first 9 of dong and the first 5 of tay

    Raise ValueError when ``count`` is not between 1 and the number of hosts.
    """
    if not 1 <= count <= len(hosts):
        raise ValueError(f"{count} hosts: the inventory has {len(hosts)}")
    sites = list(dict.fromkeys(ref.site for ref in hosts))
    sizes = {site: sum(1 for ref in hosts if ref.site == site) for site in sites}
    # whole numbers: a site's share is sizes × count / total, its remainder sizes × count % total
    taken = {site: sizes[site] * count // len(hosts) for site in sites}
    by_remainder = sorted(sites, key=lambda site: -(sizes[site] * count % len(hosts)))
    for site in by_remainder[: count - sum(taken.values())]:
        taken[site] += 1
    chosen: list[HostRef] = []
    for ref in hosts:
        if sum(1 for other in chosen if other.site == ref.site) < taken[ref.site]:
            chosen.append(ref)
    return chosen


def describe_selection(hosts: Sequence[HostRef]) -> str:
    """``"14 hosts (dong 9, tay 5); roles: app 9, lb 1, …"``: what a count deploys."""
    sites = Counter(ref.site for ref in hosts)
    roles = Counter(role for ref in hosts for role in ref.host.roles)
    site_text = ", ".join(f"{site} {number}" for site, number in sites.items())
    role_text = ", ".join(f"{role} {number}" for role, number in roles.most_common())
    return f"{len(hosts)} hosts ({site_text}); roles: {role_text}"


def make_egov_argv(egov: Path, inventory: Path, hosts: Sequence[HostRef]) -> list[str]:
    """``egov deploy`` of exactly ``hosts`` (``--limit site/host`` each), reporting JSON."""
    limits = [argument for ref in hosts for argument in ("--limit", ref.selector)]
    return [str(egov), "deploy", "-i", str(inventory), *limits, "--output", "json"]


def make_pyinfra_argv(
    pyinfra: Path, hosts: Sequence[HostRef], data: dict[str, str] | None = None
) -> list[str]:
    """The plain pyinfra CLI deploying ``site.py`` to exactly ``hosts`` (their pyinfra names,
    ``site-host``), ``-y`` (no prompt, no change check first, as ``egov deploy`` runs), with
    ``data`` as ``--data key=value`` overrides."""
    limits = [argument for ref in hosts for argument in ("--limit", ref.qualified_name)]
    overrides = [
        argument
        for key in sorted(data or {})
        for argument in ("--data", f"{key}={(data or {})[key]}")
    ]
    return [str(pyinfra), "-y", *limits, *overrides, str(PYINFRA_INVENTORY), str(SITE_DEPLOY)]


def get_side_order(run: int) -> tuple[str, str]:
    """Which side goes first in the ``run``-th run (counted over every count): alternating."""
    return SIDES if run % 2 == 0 else (SIDES[1], SIDES[0])


def parse_pyinfra_totals(output: str) -> PyinfraTotals:
    """The "Grand total" row of pyinfra's results (``-`` is 0); ValueError without one.

    pyinfra 3.10 prints ``Grand total  <operations> <changed> <errors> <unchanged>``, its
    "Success" column counting the host × operations that changed something."""
    for line in reversed(_ANSI.sub("", output).splitlines()):
        if line.strip().startswith("Grand total"):
            numbers = [0 if word == "-" else int(word) for word in line.split()[2:]]
            if len(numbers) == 4:
                return PyinfraTotals(*numbers)
    raise ValueError("pyinfra printed no Grand total row")


def parse_pyinfra_connected(output: str) -> set[str]:
    """The hosts pyinfra reports ``[host] Connected`` for."""
    lines = _ANSI.sub("", output).splitlines()
    return {match.group(1) for line in lines if (match := _CONNECTED.match(line.strip()))}


def find_lab_problems(status: LabStatus) -> list[str]:
    """Why the lab of ``status`` cannot be benchmarked now; [] when every host runs and
    answers SSH, every site link is up and no fault is in force (a fault would be timed)."""
    problems = []
    stopped = [host.machine for host in status.hosts if not host.running]
    if stopped:
        problems.append(f"hosts not running: {', '.join(stopped)}")
    silent = [host.machine for host in status.hosts if host.running and host.ssh_ok is False]
    if silent:
        problems.append(f"hosts not answering SSH: {', '.join(silent)}")
    links = [f"{site.name} ({site.link})" for site in status.sites if site.link != "up"]
    if links:
        problems.append(f"site links not up: {', '.join(links)}")
    if status.faults:
        faults = ", ".join(f"{fault.kind} {fault.target}" for fault in status.faults)
        problems.append(f"faults in force: {faults}")
    return problems


def format_row(count: Count) -> str:
    """One Markdown row: hosts, each side's median, the ratio, each side's seconds per host."""
    return (
        f"| {count.hosts} | {count.median('egov'):.2f} s | {count.median('pyinfra'):.2f} s | "
        f"{count.ratio():.3f} | {count.per_host('egov'):.3f} s | "
        f"{count.per_host('pyinfra'):.3f} s |"
    )


def get_growth(before: Count, after: Count, side: str) -> tuple[float, float]:
    """(time, time per host) of ``side`` at ``after`` over ``before``: ×factors."""
    return after.median(side) / before.median(side), after.per_host(side) / before.per_host(side)


def format_growth(before: Count, after: Count) -> str:
    """``growth 14 → 28 hosts (×2): egov ×1.40, per host ×0.70; pyinfra …``."""
    parts = []
    for side in SIDES:
        time_growth, per_host_growth = get_growth(before, after, side)
        parts.append(f"{side} ×{time_growth:.2f}, per host ×{per_host_growth:.2f}")
    return (
        f"growth {before.hosts} → {after.hosts} hosts (×{after.hosts / before.hosts:g}): "
        + "; ".join(parts)
    )


def judge(counts: Sequence[Count]) -> list[tuple[bool, str]]:
    """(passed, text) per target: the ratio at every count, and egov's seconds per host from
    each count to the next."""
    verdicts = [
        (
            count.ratio() <= OVERHEAD_TARGET,
            f"no-op re-deploy at {count.hosts} hosts ≤ {OVERHEAD_TARGET:.2f} × plain pyinfra: "
            f"{count.ratio():.3f}",
        )
        for count in counts
    ]
    for before, after in itertools.pairwise(counts):
        _, growth = get_growth(before, after, "egov")
        verdicts.append(
            (
                growth <= FLAT_TOLERANCE,
                f"egov's seconds per host falling or flat (≤ ×{FLAT_TOLERANCE:.2f}) from "
                f"{before.hosts} to {after.hosts} hosts: ×{growth:.2f}",
            )
        )
    return verdicts


def parse_counts(text: str) -> tuple[int, ...]:
    """``"14,28,42"`` → (14, 28, 42), ascending, without repeats; argparse makes the
    ValueError of a non-number or a count below 1 an exit 2."""
    counts = tuple(sorted({int(part) for part in text.split(",")}))
    if not counts or counts[0] < 1:
        raise ValueError(text)
    return counts


def refuse(message: str, hint: str = "") -> NoReturn:
    """Bad input or a lab that is not up: one message and the fix on stderr, exit 2."""
    print(f"deploy_scale: {message}", file=sys.stderr)
    if hint:
        print(f"  {hint}", file=sys.stderr)
    sys.exit(2)


def get_lab_spec(estate: Estate, inventory: Path) -> LabSpec:
    """The lab of ``estate``; exit 2 when ``inventory`` is not a lab inventory."""
    try:
        return make_lab_spec(estate)
    except EgovError as error:
        refuse(f"{inventory}: {error.message}", error.hint)


def check_lab_up(spec: LabSpec, inventory: Path) -> None:
    """Exit 2 unless the lab of ``spec`` is up, every host answering SSH, no fault in force."""
    up = f"bring it up first: egov lab up -i {inventory}"
    if load_state(spec.name) is None:
        refuse(
            f"the lab of estate {spec.name} ({inventory}) is not up: no lab state in "
            f"{get_estate_dir(spec.name)}",
            up,
        )
    problems = find_lab_problems(lab_status(spec))
    if problems:
        refuse(
            f"the lab of estate {spec.name} ({inventory}) is not ready: " + "; ".join(problems),
            f"{up} (it repairs a half-built lab); clear faults with `egov lab fault …`; "
            "run as root (the lab's SSH key is root's)",
        )


def run_timed(argv: list[str], environment: dict[str, str]) -> tuple[float, str, str]:
    """Run ``argv``; (wall seconds, stdout, stderr). Exit 1 with the tails of its output when
    it fails (egov's report of the failed hosts is on stdout): a failed deploy times nothing."""
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=environment, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        print(
            f"deploy_scale: {Path(argv[0]).name} failed ({result.returncode}): "
            f"{' '.join(argv[:3])} …",
            file=sys.stderr,
        )
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        sys.exit(1)
    return seconds, result.stdout, result.stderr


def run_egov(argv: list[str], environment: dict[str, str], hosts: Sequence[HostRef]) -> float:
    """One timed ``egov deploy``; exit 1 unless it deployed exactly ``hosts``, changing nothing."""
    seconds, stdout, _ = run_timed(argv, environment)
    report = json.loads(stdout)
    deployed = {host["name"] for host in report["hosts"]}
    if deployed != {ref.qualified_name for ref in hosts}:
        sys.exit(
            f"deploy_scale: egov deployed {sorted(deployed)}, not the {len(hosts)} hosts asked"
        )
    if report["changes"] or report["failed_hosts"]:
        changed = {host["name"]: host["changed"] for host in report["hosts"] if host["changed"]}
        sys.exit(
            f"deploy_scale: the re-deploy was not a no-op: changed {changed}, "
            f"failed {report['failed_hosts']}"
        )
    return seconds


def run_pyinfra(argv: list[str], environment: dict[str, str], hosts: Sequence[HostRef]) -> float:
    """One timed plain pyinfra deploy; exit 1 unless it reached exactly ``hosts`` and changed
    nothing."""
    seconds, stdout, stderr = run_timed(argv, environment)
    output = stdout + stderr  # pyinfra logs to stderr
    connected = parse_pyinfra_connected(output)
    if connected != {ref.qualified_name for ref in hosts}:
        sys.exit(
            f"deploy_scale: pyinfra connected to {sorted(connected)}, "
            f"not the {len(hosts)} hosts asked"
        )
    totals = parse_pyinfra_totals(output)
    if totals.changed or totals.errors:
        sys.exit(f"deploy_scale: the plain pyinfra re-deploy was not a no-op: {totals}")
    return seconds


def settle(argv: list[str], environment: dict[str, str]) -> None:
    """Full deploys of every host until one changes nothing (at most ``SETTLE_DEPLOYS``), so
    that the timed runs are no-ops; each is printed (on a fresh lab the first is the first
    deploy). Exit 1 when one fails or the last still changes something."""
    for attempt in range(1, SETTLE_DEPLOYS + 1):
        seconds, stdout, _ = run_timed(argv, environment)
        report = json.loads(stdout)
        print(
            f"full deploy {attempt} of all {len(report['hosts'])} hosts: {seconds:.1f} s wall, "
            f"{report['changes']} changes, {len(report['failed_hosts'])} failed",
            flush=True,
        )
        if report["failed_hosts"]:
            sys.exit(f"deploy_scale: the full deploy failed on {report['failed_hosts']}")
        if not report["changes"]:
            return
    changed = {host["name"]: host["changed"] for host in report["hosts"] if host["changed"]}
    sys.exit(f"deploy_scale: {SETTLE_DEPLOYS} full deploys in a row changed something: {changed}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", type=Path, default=DEFAULT_INVENTORY)
    parser.add_argument(
        "--hosts", type=parse_counts, default=DEFAULT_COUNTS, help="host counts, comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per side and count, ≥ 1")
    arguments = parser.parse_args(argv)
    inventory: Path = arguments.inventory.resolve()
    try:
        estate = load_estate(inventory).estate
    except EgovError as error:
        refuse(error.message, error.hint)
    if arguments.repeat < 1:
        refuse(f"--repeat {arguments.repeat}: no run to time", "give --repeat 1 or more")
    spec = get_lab_spec(estate, inventory)
    every_host = list(estate.iter_hosts())
    too_many = [count for count in arguments.hosts if count > len(every_host)]
    if too_many:
        refuse(
            f"--hosts {too_many[0]}: {inventory} has {len(every_host)} hosts",
            f"give counts between 1 and {len(every_host)}",
        )
    check_lab_up(spec, inventory)

    from egov.deploys import objectstore
    from egov.deploys.wheelhouse import build_requirements_wheelhouse, build_wheelhouse

    environment = {
        **os.environ,
        "EGOV_INVENTORY": str(inventory),
        "EGOV_WHEELHOUSE": str(build_wheelhouse()),
        "PYINFRA_PROGRESS": "off",
    }
    data: dict[str, str] = {}
    if any("objectstore" in ref.host.roles for ref in every_host):  # as `egov deploy` gives it
        data[objectstore.OBJECTSTORE_WHEELHOUSE_KEY] = str(
            build_requirements_wheelhouse(
                objectstore.OBJECTSTORE_WHEELHOUSE_NAME, objectstore.OBJECTSTORE_REQUIREMENTS
            )
        )
    egov = BIN / "egov"
    settle(make_egov_argv(egov, inventory, every_host), environment)

    counts: list[Count] = []
    run = 0
    for number in arguments.hosts:
        hosts = select_hosts_for_count(every_host, number)
        print(describe_selection(hosts), flush=True)
        count = Count(number)
        argvs = {
            "egov": make_egov_argv(egov, inventory, hosts),
            "pyinfra": make_pyinfra_argv(BIN / "pyinfra", hosts, data),
        }
        for repetition in range(arguments.repeat):
            order = get_side_order(run)
            run += 1
            for side in order:
                if side == "egov":
                    count.egov.append(run_egov(argvs["egov"], environment, hosts))
                else:
                    count.pyinfra.append(run_pyinfra(argvs["pyinfra"], environment, hosts))
            print(
                f"  {number} hosts, run {repetition + 1} ({order[0]} first): egov "
                f"{count.egov[-1]:.2f} s, pyinfra {count.pyinfra[-1]:.2f} s (load average "
                f"{os.getloadavg()[0]:.1f}: the machine may be shared)",
                flush=True,
            )
        counts.append(count)
        print(format_row(count), flush=True)

    print(
        f"\nno-op re-deploys of {estate.name}, {arguments.repeat} alternating runs per side and "
        "count, medians; egov and pyinfra each a process of their own, timed whole\n"
        "| hosts | `egov deploy` | plain `pyinfra` | ratio | egov per host | pyinfra per host |\n"
        "|---:|---:|---:|---:|---:|---:|"
    )
    for count in counts:
        print(format_row(count))
    for before, after in itertools.pairwise(counts):
        print(format_growth(before, after))
    verdicts = judge(counts)
    for passed, text in verdicts:
        print(f"{'PASS' if passed else 'FAIL'}: {text}")
    return 0 if all(passed for passed, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
