"""The storage role: file store directories, REST repository servers, their credentials.

The real test runs the rendered unit's own rclone command line on loopback, with the
generated htpasswd, and drives it with restic 0.14: clients can add but not delete, and
retention works locally against the directory, as the module documents.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from egov.deploys import storage
from egov.deploys.firewall import make_firewall_rules
from egov.errors import InputError
from egov.inventory.model import Estate
from tests.deploys.conftest import host
from tests.deploys.support import get_free_port, get_site_role_calls, plan_deploy, wait_for_port


@pytest.fixture
def songxanh_with_passwords(songxanh: Estate) -> Estate:
    repositories = {
        name: repository.model_copy(update={"rest_password": f"env:SONGXANH_REST_{name.upper()}"})
        for name, repository in songxanh.backup.repositories.items()
    }
    backup = songxanh.backup.model_copy(update={"repositories": repositories})
    return songxanh.model_copy(update={"backup": backup})


def test_each_store_host_serves_its_own_sites_repository(lab: Estate) -> None:
    assert storage.make_rest_servers(lab, host(lab, "primary/store-01")) == [
        storage.RestServer("primary", 8000, "file:/var/lib/egov/lab/secrets/rest-primary")
    ]
    assert [s.repository for s in storage.make_rest_servers(lab, host(lab, "site2/store-01"))] == [
        "site2"
    ]
    assert storage.make_rest_servers(lab, host(lab, "primary/mon-01")) == []


def test_other_provinces_layouts_work(songxanh_with_passwords: Estate) -> None:
    north = storage.make_rest_servers(
        songxanh_with_passwords, host(songxanh_with_passwords, "dc-north/nas")
    )
    assert [(s.repository, s.port, s.unit) for s in north] == [
        ("north", 8000, "egov-restic-north.service")
    ]
    assert north[0].data_directory == "/srv/restic/north"
    assert north[0].user == "egov-restic-north"


def test_a_rest_repository_without_client_password_is_refused(songxanh: Estate) -> None:
    # The inventory check refuses this too; the role must not rely on it.
    repositories = {
        name: repository.model_copy(update={"rest_password": None})
        for name, repository in songxanh.backup.repositories.items()
    }
    backup = songxanh.backup.model_copy(update={"repositories": repositories})
    estate = songxanh.model_copy(update={"backup": backup})
    with pytest.raises(InputError, match="repository north") as caught:
        storage.make_rest_servers(estate, host(estate, "dc-north/nas"))
    assert "backup.repositories.north.rest_password" in caught.value.hint


def test_file_store_directories_are_on_the_host_the_services_name(
    lab: Estate, songxanh_with_passwords: Estate
) -> None:
    assert storage.make_file_store_paths(lab, host(lab, "primary/store-01")) == [
        "/srv/files/portal",
        "/srv/files/motcua",
    ]
    assert storage.make_file_store_paths(lab, host(lab, "site2/store-01")) == []
    assert storage.make_file_store_paths(lab, host(lab, "primary/db-01")) == []
    estate = songxanh_with_passwords
    assert storage.make_file_store_paths(estate, host(estate, "dc-north/nas")) == []


def test_htpasswd_is_stable_for_a_password_and_verifies() -> None:
    salt = storage.make_bcrypt_salt("camau-lab", "primary", "backup")
    line = storage.make_htpasswd("backup", "pässword", salt)
    assert line == storage.make_htpasswd("backup", "pässword", salt)
    user, _, hashed = line.rstrip("\n").partition(":")
    assert user == "backup"
    assert hashed.startswith("$2y$05$")
    assert bcrypt.checkpw("pässword".encode(), hashed.encode())
    assert not bcrypt.checkpw(b"other", hashed.encode())
    assert "pässword" not in line


def test_salts_differ_between_repositories_and_estates() -> None:
    salts = {
        storage.make_bcrypt_salt(estate, repository, "backup")
        for estate in ("camau", "songxanh")
        for repository in ("primary", "site2")
    }
    assert len(salts) == 4


def test_htpasswd_is_read_by_apache_htpasswd(tmp_path: Path) -> None:
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        pytest.skip("htpasswd is not installed (apt-get install apache2-utils)")
    path = tmp_path / "htpasswd"
    path.write_text(storage.make_htpasswd("backup", "s3cret", storage.make_bcrypt_salt("e", "r")))
    good = subprocess.run(
        [htpasswd, "-vi", str(path), "backup"], input="s3cret", text=True, check=False
    )
    bad = subprocess.run(
        [htpasswd, "-vi", str(path), "backup"], input="wrong", text=True, check=False
    )
    assert (good.returncode, bad.returncode) == (0, 3)


def test_unit_serves_append_only_with_no_secret_on_its_command_line(lab: Estate) -> None:
    [rest_server] = storage.make_rest_servers(lab, host(lab, "site2/store-01"))
    unit = storage.make_unit(rest_server)
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--append-only" in exec_start
    assert "--addr :8000" in exec_start
    assert "--htpasswd %d/htpasswd" in exec_start
    assert "LoadCredential=htpasswd:/etc/egov/secrets/restic-site2.htpasswd" in unit
    assert "User=egov-restic-site2" in unit
    assert "ReadWritePaths=/srv/restic/site2" in unit


def test_firewall_opens_the_repository_port(lab: Estate) -> None:
    rules = make_firewall_rules(lab, host(lab, "primary/store-01"))
    assert any(rule.port == 8000 and rule.protocol == "tcp" for rule in rules)


def test_site_dispatches_the_storage_role() -> None:
    assert "storage.storage" in get_site_role_calls()
    assert callable(storage.storage)


def test_storage_role_plans_without_showing_the_credentials(
    songxanh_with_passwords: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGXANH_REST_SOUTH", "rest-password-value")
    names, logs = plan_deploy(songxanh_with_passwords, "dc-south/nas-b", storage.storage)
    assert "storage | Client credentials of repository south" in names
    assert names[-2:] == [
        "storage | Restart egov-restic-south.service",
        "storage | Keep egov-restic-south.service running",
    ]
    assert "egov-restic-south.service" in logs  # the unit's diff is shown...
    assert "rest-password-value" not in logs  # ...the credentials are not
    assert "$2y$" not in logs


# Real rclone and restic on loopback.


@pytest.fixture
def rest_server(lab: Estate, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The rendered unit's rclone command, on loopback, with a temporary directory."""
    rclone = shutil.which("rclone")
    if rclone is None or shutil.which("restic") is None:
        pytest.skip("rclone and restic are not installed (apt-get install rclone restic)")
    [server] = storage.make_rest_servers(lab, host(lab, "primary/store-01"))
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(storage.make_htpasswd("backup", "client-pw", storage.make_bcrypt_salt("t")))
    data = tmp_path / "repository"
    data.mkdir()
    port = get_free_port()
    exec_start = next(
        line for line in storage.make_unit(server).splitlines() if line.startswith("ExecStart=")
    )
    argv = [
        argument.replace("%d/htpasswd", str(htpasswd))
        .replace(server.data_directory, str(data))
        .replace(f":{server.port}", f"127.0.0.1:{port}")
        for argument in shlex.split(exec_start.removeprefix("ExecStart="))
    ]
    argv[0] = rclone
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/", data
    finally:
        process.terminate()
        process.wait(timeout=10)


def restic(tmp_path: Path, repository: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """restic with the repository (and its credentials) in files, as the agent runs it."""
    repository_file = tmp_path / "repository-url"
    repository_file.write_text(repository)
    password_file = tmp_path / "restic-password"
    password_file.write_text("repository-pw")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RESTIC_PASSWORD_FILE": str(password_file),
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(
        ["restic", "--repository-file", str(repository_file), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_clients_add_but_never_delete_and_prune_runs_locally(
    rest_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, data = rest_server
    client = "rest:" + url.replace("http://", "http://backup:client-pw@")
    source = tmp_path / "source"
    source.mkdir()
    (source / "record").write_text("one")

    assert restic(tmp_path, client, "init").returncode == 0
    for _ in range(2):
        assert restic(tmp_path, client, "backup", "--quiet", str(source)).returncode == 0
    assert restic(tmp_path, client, "check").returncode == 0

    denied = restic(tmp_path, "rest:" + url.replace("http://", "http://backup:wrong@"), "snapshots")
    assert denied.returncode != 0
    assert "401" in denied.stderr

    snapshot = next((data / "snapshots").iterdir()).name
    request = urllib.request.Request(f"{url}snapshots/{snapshot}", method="DELETE")
    credentials = base64.b64encode(b"backup:client-pw").decode()
    request.add_header("Authorization", f"Basic {credentials}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert (data / "snapshots" / snapshot).exists()

    # Retention, as documented: restic on the store host against the directory itself.
    local = str(data)
    pruned = restic(tmp_path, local, "forget", "--keep-last", "1", "--prune", "--quiet")
    assert pruned.returncode == 0, pruned.stderr
    assert len(list((data / "snapshots").iterdir())) == 1
    assert restic(tmp_path, client, "check").returncode == 0
