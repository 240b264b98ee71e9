"""Real restic repositories of 100, 1,000 and 10,000 snapshots, and egov state built from them.

Shared by ``exporter_scrape.py`` and ``backup_status.py``. The estate is the lab's inventory
with 20 datasets (17 extra file datasets on every host): 254 dataset × host pairs. A
repository of N snapshots holds N real ``restic backup`` snapshots, tagged as egov's agent
tags them (``egov``, ``dataset:<name>``, the qualified host name), round-robin over the
pairs, one minute apart, the newest at generation time.

Generation is slow only because of restic's key derivation: every restic process opens the
repository with scrypt (~0.5 s here at the parameters ``restic init`` calibrates). So,
while generating, the repository holds a second key with cheap scrypt parameters (N=1024,
as restic's own test suite uses) and the backups name it with ``--key-hint``; the
repository is built on tmpfs (restic syncs every file it writes) by a few ``nice -n 19``
processes at once (each is ~0.03 s of CPU and mostly waits). The cheap key is deleted at
the end: what is cached, and measured, is a repository exactly as ``restic init`` and
``restic backup`` leave it, opened at restic's own cost. The snapshots back up a fixed
directory per dataset with ``--force`` (no parent lookup, which would list every snapshot
in every process), so after the first one they add no data, as an unchanged night.

Repositories are cached under ``$EGOV_BENCH_CACHE`` (default /var/cache/egov/bench), keyed
by size and recipe, with ``generated.json`` saying how long the generation took. The three
sites' repositories of a run are copies of the cached one (after a replication every
repository holds every snapshot), and the state comes from egov's own
``refresh_catalog`` run on each, as the replication job runs it.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's egov, for every bench that imports this

from egov.backup.agent import AgentSettings  # noqa: E402
from egov.backup.replication import refresh_catalog  # noqa: E402
from egov.backup.repositories import AccessKind, RepositoryConfig  # noqa: E402
from egov.inventory import load_estate  # noqa: E402
from egov.inventory.derive import get_dataset_hosts  # noqa: E402
from egov.inventory.model import Estate  # noqa: E402
from egov.records import CatalogRecord  # noqa: E402

CACHE_ROOT = Path(os.environ.get("EGOV_BENCH_CACHE", "/var/cache/egov/bench"))
DATASETS = 20
SIZES = tuple(int(size) for size in os.environ.get("EGOV_BENCH_SIZES", "100,1000,10000").split(","))
SNAPSHOT_INTERVAL_SECONDS = 60
GENERATION_WORKERS = 6
PASSWORD = "bench"
RECIPE = 1  # bump when the way snapshots are laid out changes
CHEAP_SCRYPT = {"N": 1024, "r": 8, "p": 1}


def make_inventory(directory: Path) -> Path:
    """The lab's inventory with ``DATASETS`` datasets, written into ``directory``."""
    data = yaml.safe_load((ROOT / "inventory" / "lab.yaml").read_text())
    datasets = data["backup"]["datasets"]
    for index in range(DATASETS - len(datasets)):
        datasets[f"extra-{index:02d}"] = {
            "kind": "files",
            "hosts": ["*"],
            "paths": [f"/srv/{index}"],
        }
    path = directory / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def make_pairs(estate: Estate) -> list[tuple[str, str]]:
    """(dataset, qualified host) for every host that backs up every dataset."""
    return [
        (name, ref.qualified_name)
        for name in estate.backup.datasets
        for ref in get_dataset_hosts(estate, name)
    ]


# -- restic's key file, to add and remove the generation key ---------------------------------


def _mac_key(nonce: bytes, k: bytes, r: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return r + encryptor.update(nonce) + encryptor.finalize()


def _open_sealed(data: bytes, user_key: bytes) -> bytes:
    encryption, k, r = user_key[:32], user_key[32:48], user_key[48:64]
    nonce, ciphertext, tag = data[:16], data[16:-16], data[-16:]
    Poly1305.verify_tag(_mac_key(nonce, k, r), ciphertext, tag)
    decryptor = Cipher(algorithms.AES(encryption), modes.CTR(nonce)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def _seal(plaintext: bytes, user_key: bytes) -> bytes:
    encryption, k, r = user_key[:32], user_key[32:48], user_key[48:64]
    nonce = os.urandom(16)
    encryptor = Cipher(algorithms.AES(encryption), modes.CTR(nonce)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + ciphertext + Poly1305.generate_tag(_mac_key(nonce, k, r), ciphertext)


def _scrypt(salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(PASSWORD.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**31 - 1, dklen=64)


def add_cheap_key(repository: Path) -> str:
    """Add a key of the same password with cheap scrypt parameters; return its id."""
    key = json.loads(next((repository / "keys").iterdir()).read_text(encoding="utf-8"))
    user = _scrypt(base64.b64decode(key["salt"]), key["N"], key["r"], key["p"])
    master = _open_sealed(base64.b64decode(key["data"]), user)
    salt = os.urandom(64)
    cheap = _scrypt(salt, CHEAP_SCRYPT["N"], CHEAP_SCRYPT["r"], CHEAP_SCRYPT["p"])
    text = json.dumps(
        {
            **key,
            **CHEAP_SCRYPT,
            "salt": base64.b64encode(salt).decode(),
            "data": base64.b64encode(_seal(master, cheap)).decode(),
        }
    ).encode()
    name = hashlib.sha256(text).hexdigest()
    (repository / "keys" / name).write_bytes(text)
    return name


# -- generation and the cache ----------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """A cached repository and what its generation cost."""

    path: Path
    snapshots: int
    seconds: float
    cpu_seconds: float
    cached: bool


def _restic_environment(repository: Path, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TZ": "UTC",
        "RESTIC_REPOSITORY": str(repository),
        "RESTIC_PASSWORD": PASSWORD,
        "RESTIC_CACHE_DIR": str(home / "cache"),
    }


def _generate(target: Path, snapshots: int, pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """Build the repository at ``target``; return (wall, CPU) seconds of the generation."""
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    scratch_root = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="egov-bench-", dir=scratch_root) as scratch:
        home = Path(scratch)
        repository = home / "repository"
        environment = _restic_environment(repository, home)
        subprocess.run(["restic", "init", "-q"], env=environment, check=True, capture_output=True)
        hint = add_cheap_key(repository)
        for dataset in {dataset for dataset, _ in pairs}:
            (home / "data" / dataset).mkdir(parents=True)
            (home / "data" / dataset / "file").write_text(f"{dataset}\n", encoding="utf-8")
        end = int(time.time()) // 60 * 60

        def one(index: int) -> None:
            dataset, host = pairs[index % len(pairs)]
            taken = end - (snapshots - 1 - index) * SNAPSHOT_INTERVAL_SECONDS
            stamp = datetime.fromtimestamp(taken, UTC).strftime("%Y-%m-%d %H:%M:%S")
            subprocess.run(
                ["nice", "-n", "19", "restic", "--key-hint", hint, "backup", "-q", "--force",
                 "--host", host, "--tag", "egov", "--tag", f"dataset:{dataset}",
                 "--time", stamp, "."],
                env=environment, cwd=home / "data" / dataset, check=True, capture_output=True,
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=GENERATION_WORKERS) as pool:
            list(pool.map(one, range(snapshots)))
        (repository / "keys" / hint).unlink()
        shutil.rmtree(repository / "locks", ignore_errors=True)
        (repository / "locks").mkdir()
        shutil.copytree(repository, target)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.monotonic() - started, cpu


def get_repository(snapshots: int, pairs: list[tuple[str, str]]) -> Generated:
    """The cached repository of ``snapshots`` snapshots over ``pairs``, generated if absent."""
    recipe = json.dumps([RECIPE, snapshots, SNAPSHOT_INTERVAL_SECONDS, pairs]).encode()
    directory = CACHE_ROOT / f"restic-{snapshots}-{hashlib.sha256(recipe).hexdigest()[:12]}"
    marker = directory / "generated.json"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    # a second bench started meanwhile waits for this generation instead of redoing it
    with (CACHE_ROOT / f"{directory.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            facts = json.loads(marker.read_text(encoding="utf-8"))
            return Generated(
                directory / "repository", snapshots, facts["seconds"], facts["cpu_seconds"], True
            )
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        seconds, cpu = _generate(directory / "repository", snapshots, pairs)
        marker.write_text(
            json.dumps({"seconds": seconds, "cpu_seconds": cpu, "workers": GENERATION_WORKERS}),
            encoding="utf-8",
        )
    return Generated(directory / "repository", snapshots, seconds, cpu, False)


@dataclass(frozen=True)
class SiteRepositories:
    """The three sites' repositories of one size, as egov reaches them."""

    configs: dict[str, RepositoryConfig]
    password_file: Path

    def environment(self, name: str, home: Path) -> dict[str, str]:
        """restic's environment for the repository ``name`` (for a baseline's own restic)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "RESTIC_REPOSITORY": self.configs[name].location,
            "RESTIC_PASSWORD_FILE": str(self.password_file),
            "RESTIC_CACHE_DIR": str(home / "restic-cache"),
        }


def make_site_repositories(
    estate: Estate, generated: Generated, directory: Path
) -> SiteRepositories:
    """A copy of ``generated`` per repository of the inventory, under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    password_file = directory / "restic-password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    configs = {}
    for name, repository in estate.backup.repositories.items():
        path = directory / "repositories" / name
        shutil.copytree(generated.path, path)
        configs[name] = RepositoryConfig(
            name=name,
            site=repository.site,
            kind=AccessKind.LOCAL,
            location=str(path),
            password=f"file:{password_file}",
        )
    return SiteRepositories(configs, password_file)


def refresh_catalogs(
    repositories: SiteRepositories, state_dir: Path, cache_dir: Path
) -> tuple[list[CatalogRecord], float]:
    """egov's catalog refresh on every repository, in replication order; (records, seconds)."""
    settings = AgentSettings(state_dir=state_dir, cache_dir=cache_dir, attempts=1)
    started = time.perf_counter()
    records = [refresh_catalog(config, settings) for config in repositories.configs.values()]
    return records, time.perf_counter() - started


def load_bench_estate(directory: Path) -> tuple[Path, Estate]:
    """The bench inventory written into ``directory`` and its estate."""
    inventory = make_inventory(directory)
    return inventory, load_estate(inventory).estate


def main() -> None:
    """Generate (or find) the cached repositories and say what each cost."""
    with tempfile.TemporaryDirectory(prefix="egov-bench-") as scratch:
        _, estate = load_bench_estate(Path(scratch))
    pairs = make_pairs(estate)
    for snapshots in SIZES:
        generated = get_repository(snapshots, pairs)
        origin = "cached" if generated.cached else "generated now"
        print(
            f"{snapshots:>6,} snapshots over {len(pairs)} dataset × host pairs: "
            f"{generated.seconds:.0f} s wall, {generated.cpu_seconds:.0f} s CPU ({origin}); "
            f"{generated.path}",
            flush=True,
        )


if __name__ == "__main__":
    main()
