"""Real restic, rclone and moto on loopback for the backup tests, and the estates they use.

Nothing here touches the lab: repositories are temporary directories, an ``rclone serve
restic --append-only`` on 127.0.0.1 (as the storage role runs it) and moto's S3 server on
127.0.0.1, installed once from the objectstore wheelhouse into a cached venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from egov.backup.agent import AgentSettings
from egov.backup.agentconfig import AgentConfig
from egov.backup.datasets import BackupJob
from egov.backup.repositories import AccessKind, RepositoryConfig
from egov.inventory import load_estate
from egov.inventory.model import Estate
from tests.deploys.support import get_free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventory" / "lab.yaml"
PASSWORD = "restic-pw-0f9e8d7c6b5a"
REST_PASSWORD = "rest-pw-1a2b3c4d5e6f"
ACCESS_KEY = "AKIAEGOVTESTKEY0001"
SECRET_KEY = "egov-test-secret-key-9z8y7x"


@pytest.fixture(scope="session")
def lab() -> Estate:
    return load_estate(LAB).estate


def need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed here (apt-get install {binary})")


def write_secret(path: Path, value: str) -> str:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return f"file:{path}"


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    return directory


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        textfile_directory=tmp_path / "textfile",
        attempts=3,
        backoff_seconds=0.0,
        sleep=lambda _: None,
    )


def make_local(tmp_path: Path, secrets_dir: Path, name: str, site: str) -> RepositoryConfig:
    return RepositoryConfig(
        name=name,
        site=site,
        kind=AccessKind.LOCAL,
        location=str(tmp_path / f"repo-{name}"),
        password=write_secret(secrets_dir / f"restic-{name}", f"{PASSWORD}-{name}"),
    )


@pytest.fixture
def local_repository(tmp_path: Path, secrets_dir: Path) -> RepositoryConfig:
    need("restic")
    return make_local(tmp_path, secrets_dir, "primary", "primary")


@dataclass
class RestServer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, htpasswd: Path) -> None:
        self.process = subprocess.Popen(
            ["rclone", "serve", "restic", str(self.directory), "--addr", f"127.0.0.1:{self.port}",
             "--append-only", "--htpasswd", str(htpasswd), "--config", "/dev/null"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def rest_server(tmp_path: Path) -> Iterator[RestServer]:
    need("rclone")
    need("restic")
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(REST_PASSWORD.encode(), bcrypt.gensalt(5)).decode()
    htpasswd.write_text(f"backup:{hashed}\n")
    server = RestServer(get_free_port(), tmp_path / "srv")
    server.directory.mkdir()
    server.start(htpasswd)
    yield server
    server.stop()


def make_rest(
    server_port: int, secrets_dir: Path, name: str = "site2", site: str = "site2"
) -> RepositoryConfig:
    return RepositoryConfig(
        name=name,
        site=site,
        kind=AccessKind.REST,
        location=f"rest:http://127.0.0.1:{server_port}/",
        password=write_secret(secrets_dir / f"restic-{name}", f"{PASSWORD}-{name}"),
        rest_password=write_secret(secrets_dir / f"rest-{name}", REST_PASSWORD),
    )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, from a venv cached beside the wheelhouse."""
    from egov.deploys import objectstore
    from egov.deploys.wheelhouse import build_requirements_wheelhouse, get_cache_directory
    from egov.errors import CommandFailed

    try:
        tar = build_requirements_wheelhouse(
            objectstore.OBJECTSTORE_WHEELHOUSE_NAME, objectstore.OBJECTSTORE_REQUIREMENTS
        )
    except CommandFailed as error:
        pytest.skip(f"cannot build the objectstore wheelhouse: {error.stderr_tail[-200:]}")
    venv = get_cache_directory().parent / f"backup-test-moto-{tar.stem[-20:]}"
    if not (venv / "bin" / "moto_server").exists():
        wheels = venv.with_name(venv.name + "-wheels")
        shutil.rmtree(wheels, ignore_errors=True)
        wheels.mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(tar), "-C", str(wheels)], check=True)
        python = Path(sys.base_prefix) / "bin" / "python3"
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links",
             str(wheels), objectstore.OBJECTSTORE_REQUIREMENTS[0]],
            check=True, timeout=900,
        )  # fmt: skip
    port = get_free_port()
    process = subprocess.Popen(
        [str(venv / "bin" / "moto_server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"]},
    )
    try:
        wait_for_port(port, timeout_seconds=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_s3(endpoint: str, secrets_dir: Path, bucket: str) -> RepositoryConfig:
    return RepositoryConfig(
        name="vnpt",
        site="vnpt",
        kind=AccessKind.S3,
        location=f"s3:{endpoint}/{bucket}",
        password=write_secret(secrets_dir / "restic-vnpt", f"{PASSWORD}-vnpt"),
        access_key=write_secret(secrets_dir / "s3-access", ACCESS_KEY),
        secret_key=write_secret(secrets_dir / "s3-secret", SECRET_KEY),
    )


def make_tree(root: Path, files: int = 5) -> Path:
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for index in range(files):
        (root / ("sub" if index % 2 else "") / f"file-{index}.txt").write_text(
            f"record {index}\n" * (index + 1) * 50
        )
    return root


def make_agent_command(
    tmp_path: Path, job: BackupJob, repository: RepositoryConfig
) -> tuple[list[str], dict[str, str]]:
    """``egov agent backup`` of ``job`` as a host runs it (its agent.json written under
    ``tmp_path``, state and cache there too): the command and its environment."""
    config = tmp_path / "agent.json"
    config.write_text(
        AgentConfig(
            estate="x", site="primary", host=job.host, jobs=[job],
            repositories={"primary": repository}, textfile_directory=str(tmp_path / "textfile"),
        ).model_dump_json()
    )  # fmt: skip
    environment = {**os.environ, "EGOV_STATE_DIR": str(tmp_path / "state")}
    command = [str(Path(sys.executable).parent / "egov"), "agent", "backup", "--config",
               str(config), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    return command, environment
