"""Benchmark one scrape of the egov exporter against listing snapshots with restic.

Run:  .venv/bin/python bench/exporter_scrape.py [--runs 15] [--restic-max 10000]

State: 3 sites (3 repositories) × 50 datasets, each with 1,000 snapshots by default; the
figures are printed at 100, 1,000 and 10,000 snapshots per dataset. The catalogs summarise
(newest snapshot per dataset and host, a count), so the state's size and the scrape stay flat
as snapshots grow: both are printed.

Baseline, in the same run: ``restic snapshots --json`` on one local repository holding N
snapshots (N = the per-dataset count). An exporter that lists repositories would list three
holding 50 × N each on every scrape, so the ratio printed is a lower bound. Creating
thousands of snapshots with ``restic backup`` takes over a second each (scrypt, process
start), so the repository gets one real snapshot and the others are written beside it in
restic's own format (AES-256-CTR + Poly1305-AES, named by SHA-256), which ``restic
snapshots`` reads like any other. Target: scrape median ≤ 50 ms at 1,000.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305
from prometheus_client import generate_latest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore", DeprecationWarning)

from egov.monitoring.exporter import make_registry  # noqa: E402
from egov.monitoring.targets import (  # noqa: E402
    DatasetTarget,
    MonitoringTargets,
    RepositoryTarget,
    ServiceTarget,
    SiteTarget,
)
from egov.records import (  # noqa: E402
    CatalogRecord,
    DrillRecord,
    LatestSnapshot,
    RestoreTestRecord,
    Result,
    VerificationRecord,
    write_record,
)

SITES = ("primary", "vnpt", "site2")
DATASETS = 50
COUNTS = (100, 1_000, 10_000)
TARGET_SECONDS = 0.050
PASSWORD = "bench"


def make_targets() -> MonitoringTargets:
    datasets = tuple(
        DatasetTarget(
            dataset=f"dataset-{index:02d}",
            site=site,
            hosts=(f"{site}-host-{index % 5:02d}",),
            repositories=SITES,
            backup_target_seconds=3600.0,
        )
        for index in range(DATASETS)
        for site in SITES
    )
    return MonitoringTargets(
        estate="bench",
        environment="production",
        datasets=datasets,
        repositories=tuple(RepositoryTarget(repository=site, site=site) for site in SITES),
        sites=tuple(
            SiteTarget(site=site, role="primary", storage_capacity_bytes=1e14) for site in SITES
        ),
        services=(
            ServiceTarget(
                dr_service="portal", rto_seconds=14400, rpo_seconds=900, availability_slo=0.995
            ),
        ),
        replicas=(),
        database_hosts=(),
        monitoring_hosts=("primary-mon-01",),
        scenarios=("quarterly-test-failover",),
        drill_interval_seconds=91 * 86400.0,
        verify_days=30,
    )


def write_state(state: Path, targets: MonitoringTargets, snapshots: int) -> int:
    """Records for ``snapshots`` snapshots per dataset; return the state's size in bytes."""
    now = time.time()
    for repository in SITES:
        latest: dict[str, dict[str, LatestSnapshot]] = {}
        for target in targets.datasets:
            for host in target.hosts:
                latest.setdefault(target.dataset, {})[host] = LatestSnapshot(
                    id=hashlib.sha256(f"{repository}{host}{snapshots}".encode()).hexdigest(),
                    time=now - 60,
                )
        write_record(
            CatalogRecord(
                repository=repository,
                site=repository,
                refreshed_at=now,
                result=Result.SUCCESS,
                snapshot_count=snapshots * DATASETS * len(SITES),
                size_bytes=snapshots * 10**9,
                latest=latest,
                last_success_at=now,
            ),
            state,
        )
        write_record(
            VerificationRecord(
                repository=repository,
                site=repository,
                checked_at=now,
                result=Result.SUCCESS,
                subset=3,
                subsets=30,
                last_success_at=now,
            ),
            state,
        )
        for target in targets.datasets[::3]:
            write_record(
                RestoreTestRecord(
                    dataset=target.dataset,
                    repository=repository,
                    site=repository,
                    tested_at=now,
                    result=Result.SUCCESS,
                    duration_seconds=12.0,
                    last_success_at=now,
                ),
                state,
            )
    write_record(
        DrillRecord(
            scenario="quarterly-test-failover",
            mode="test",
            started_at=now - 900,
            finished_at=now,
            result=Result.SUCCESS,
            rto_seconds={"portal": 600.0},
            rpo_seconds={"portal": 3.0},
            last_success_at=now,
        ),
        state,
    )
    return sum(path.stat().st_size for path in state.rglob("*.json"))


def time_scrapes(targets: MonitoringTargets, state: Path, runs: int) -> tuple[float, float, int]:
    """Median seconds of a cold scrape (fresh collector) and of a warm one, and the samples."""
    cold, warm = [], []
    registry = make_registry(targets, state)
    text = generate_latest(registry)  # also warms up the interpreter's first-call costs
    for _ in range(runs):
        started = time.perf_counter()
        generate_latest(make_registry(targets, state))
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        generate_latest(registry)
        warm.append(time.perf_counter() - started)
    samples = sum(1 for line in text.splitlines() if not line.startswith(b"#"))
    return statistics.median(cold), statistics.median(warm), samples


# -- a restic repository with many snapshots ------------------------------------------------


def _derive_user_key(key_file: dict[str, object]) -> bytes:
    salt = base64.b64decode(str(key_file["salt"]))
    n, r, p = int(key_file["N"]), int(key_file["r"]), int(key_file["p"])  # type: ignore[call-overload]
    return hashlib.scrypt(PASSWORD.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**31 - 1, dklen=64)


def _mac_key(nonce: bytes, k: bytes, r: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return r + encryptor.update(nonce) + encryptor.finalize()


def _open(data: bytes, encryption: bytes, k: bytes, r: bytes) -> bytes:
    nonce, ciphertext, tag = data[:16], data[16:-16], data[-16:]
    Poly1305.verify_tag(_mac_key(nonce, k, r), ciphertext, tag)
    decryptor = Cipher(algorithms.AES(encryption), modes.CTR(nonce)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def _seal(plaintext: bytes, encryption: bytes, k: bytes, r: bytes) -> bytes:
    nonce = os.urandom(16)
    encryptor = Cipher(algorithms.AES(encryption), modes.CTR(nonce)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + ciphertext + Poly1305.generate_tag(_mac_key(nonce, k, r), ciphertext)


def build_repository(path: Path, snapshots: int) -> None:
    """A local restic repository holding ``snapshots`` snapshots (one real, the rest forged)."""
    environment = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(path)}
    subprocess.run(["restic", "init", "-q"], env=environment, check=True, capture_output=True)
    data = path.parent / "data"
    data.mkdir(exist_ok=True)
    (data / "file").write_text("egov\n", encoding="utf-8")
    subprocess.run(
        ["restic", "backup", "-q", str(data)], env=environment, check=True, capture_output=True
    )
    key_file = json.loads(next((path / "keys").iterdir()).read_text(encoding="utf-8"))
    user = _derive_user_key(key_file)
    master = json.loads(
        _open(base64.b64decode(key_file["data"]), user[:32], user[32:48], user[48:64])
    )
    encryption = base64.b64decode(master["encrypt"])
    k, r = base64.b64decode(master["mac"]["k"]), base64.b64decode(master["mac"]["r"])
    # Version 2 repositories compress the real snapshot; an uncompressed JSON file (first
    # byte "{") is read as is, so the template comes from restic's own listing.
    listed = subprocess.run(
        ["restic", "snapshots", "--json", "--no-lock"],
        env=environment,
        check=True,
        capture_output=True,
    ).stdout
    template = {
        key: value for key, value in json.loads(listed)[0].items() if key not in {"id", "short_id"}
    }
    start = datetime.now(UTC).timestamp() - snapshots * 60
    for index in range(1, snapshots):
        snapshot = {
            **template,
            "time": datetime.fromtimestamp(start + index * 60, UTC).isoformat(),
            "hostname": f"host-{index % 15:02d}",
            "tags": [f"dataset-{index % DATASETS:02d}"],
        }
        sealed = _seal(json.dumps(snapshot).encode(), encryption, k, r)
        (path / "snapshots" / hashlib.sha256(sealed).hexdigest()).write_bytes(sealed)


def time_restic(path: Path, runs: int) -> tuple[float, int]:
    environment = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(path)}
    durations, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(
            ["restic", "snapshots", "--json", "--no-lock"],
            env=environment,
            check=True,
            capture_output=True,
        )
        durations.append(time.perf_counter() - started)
        count = len(json.loads(result.stdout))
    return statistics.median(durations), count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--restic-runs", type=int, default=3)
    parser.add_argument(
        "--restic-max",
        type=int,
        default=10_000,
        help="Largest repository to build for the restic baseline.",
    )
    arguments = parser.parse_args()
    targets = make_targets()
    have_restic = shutil.which("restic") is not None
    print(f"{len(SITES)} sites × {DATASETS} datasets; scrape medians over {arguments.runs} runs")
    print(
        f"{'snapshots/dataset':>18} {'state':>10} {'samples':>8} {'cold scrape':>12} "
        f"{'warm scrape':>12} {'restic snapshots':>17} {'ratio':>8}"
    )
    verdict = 0
    with tempfile.TemporaryDirectory() as directory:  # warm-up, not timed
        write_state(Path(directory), targets, 1)
        time_scrapes(targets, Path(directory), 3)
    for count in COUNTS:
        with tempfile.TemporaryDirectory() as directory:
            state = Path(directory) / "state"
            size = write_state(state, targets, count)
            cold, warm, samples = time_scrapes(targets, state, arguments.runs)
            restic_text, ratio_text = "skipped", "—"
            if have_restic and count <= arguments.restic_max:
                repository = Path(directory) / "repository"
                build_repository(repository, count)
                restic_seconds, listed = time_restic(repository, arguments.restic_runs)
                assert listed == count, f"restic listed {listed} snapshots, not {count}"
                restic_text = f"{restic_seconds * 1000:.0f} ms"
                ratio_text = f"{restic_seconds / cold:.0f}×"
            print(
                f"{count:>18,} {size / 1024:>8.0f} KiB {samples:>8} {cold * 1000:>9.1f} ms "
                f"{warm * 1000:>9.1f} ms {restic_text:>17} {ratio_text:>8}"
            )
            if count == 1_000 and cold > TARGET_SECONDS:
                verdict = 1
    print(
        f"target: cold scrape ≤ {TARGET_SECONDS * 1000:.0f} ms at 1,000 snapshots: "
        + ("met" if verdict == 0 else "MISSED")
    )
    return verdict


if __name__ == "__main__":
    sys.exit(main())
