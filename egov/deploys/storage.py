"""The ``storage`` role: the file store's directories and the site's restic REST repositories.

Each REST repository the host serves gets Debian's ``rclone serve restic --append-only`` as
``egov-restic-<repository>.service``: its own system user ``egov-restic-<repository>``, its
data in ``/srv/restic/<repository>``, the repository's port. Clients authenticate as user
``backup`` (HTTP basic auth, bcrypt htpasswd) with the repository's ``rest_password``; the
server is append-only, so clients can add snapshots but never delete or rewrite one, even
with stolen credentials. Clients reach it as ``rest:http://backup:<rest_password>@<host>:<port>/``
(restic 0.14 takes the credentials only in the URL: pass it with ``--repository-file``).

Retention never goes through the server. ``restic forget --prune`` runs on the store host
itself, as the repository's system user, against the directory (``restic -r
/srv/restic/<repository>``) with the repository password: deleting data needs a login on the
store host, and no network credential can do it. Running as that user keeps every file the
server's to read (give restic ``--cache-dir`` or ``--no-cache``: the user has no home);
restic's lock files keep the server's clients and the prune apart. This is simpler and more
robust than a second, non-append-only server on loopback.

The htpasswd is built on the control node (no password in any argv) with a bcrypt salt
derived from the estate, repository and user names, so the same password gives the same file
and a second deploy changes nothing. Salts are public by nature; this one is unique per
estate and repository, which is all a salt must be.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import bcrypt
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from egov.deploys import topology
from egov.deploys.context import get_context
from egov.deploys.packages import PACKAGES_BY_ROLE
from egov.deploys.render import as_file, render
from egov.deploys.secretfile import secret_file
from egov.errors import InputError
from egov.hostlayout import NOLOGIN_SHELL, REPOSITORY_ROOT, SECRET_DIRECTORY, UNIT_DIRECTORY
from egov.inventory.model import Estate, HostRef
from egov.secrets import read_secret

REST_CLIENT_USER = "backup"
#: bcrypt cost of the htpasswd: the server checks it on every request restic makes, and the
#: password is a long random token, so a low cost (htpasswd -B's default) loses nothing.
BCRYPT_COST = 5
_BCRYPT_ALPHABET = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
)


@dataclass(frozen=True)
class RestServer:
    """One REST repository served by the host: where its data, password file and unit go."""

    repository: str
    port: int
    password_reference: str

    @property
    def user(self) -> str:
        """The system user owning the data: ``egov-restic-primary``."""
        return f"egov-restic-{self.repository}"

    @property
    def unit(self) -> str:
        """The systemd unit: ``egov-restic-primary.service``."""
        return f"{self.user}.service"

    @property
    def data_directory(self) -> str:
        """The repository's directory: ``/srv/restic/primary``."""
        return f"{REPOSITORY_ROOT}/{self.repository}"

    @property
    def htpasswd_path(self) -> str:
        """The root-only htpasswd; systemd hands the unit a copy (LoadCredential)."""
        return f"{SECRET_DIRECTORY}/restic-{self.repository}.htpasswd"


def make_rest_servers(estate: Estate, ref: HostRef) -> list[RestServer]:
    """The REST repositories ``ref`` serves; raise InputError when one has no rest_password."""
    servers = []
    for name, port in topology.get_rest_repositories_served_by(estate, ref).items():
        reference = estate.backup.repositories[name].rest_password
        if reference is None:
            raise InputError(
                f"repository {name} is served over REST without a client password",
                f"set backup.repositories.{name}.rest_password to a secret reference "
                "(file:/etc/egov/secrets/rest-... or env:...)",
            )
        servers.append(RestServer(name, port, reference))
    return servers


def make_file_store_paths(estate: Estate, ref: HostRef) -> list[str]:
    """The services' file trees kept on ``ref`` (a primary-site host), without repeats."""
    if ref.site != estate.primary_site:
        return []
    paths = [
        files_ref.path
        for service in estate.services.values()
        for files_ref in service.data.files
        if files_ref.host == ref.name
    ]
    return list(dict.fromkeys(paths))


def make_bcrypt_salt(*parts: str, cost: int = BCRYPT_COST) -> bytes:
    """A bcrypt salt (``$2y$05$`` and 22 characters) derived from ``parts``, not random."""
    digest = hashlib.sha256("\0".join(("egov-htpasswd", *parts)).encode()).digest()[:16]
    encoded = base64.b64encode(digest).decode().rstrip("=").translate(_BCRYPT_ALPHABET)
    return f"$2y${cost:02d}${encoded}".encode()


def make_htpasswd(user: str, password: str, salt: bytes) -> str:
    """One htpasswd line ``user:$2y$...`` for ``password`` (bcrypt, as ``htpasswd -B``)."""
    return f"{user}:{bcrypt.hashpw(password.encode(), salt).decode()}\n"


def make_unit(rest_server: RestServer) -> str:
    """The systemd unit serving one repository with rclone, append-only."""
    return render(
        "storage/egov-restic.service.j2",
        repository=rest_server.repository,
        user=rest_server.user,
        port=rest_server.port,
        data_directory=rest_server.data_directory,
        htpasswd_path=rest_server.htpasswd_path,
    )


@deploy("storage")
def storage() -> None:
    """Apply the storage role: file store directories and the REST repository servers."""
    context = get_context()
    estate, ref = context.estate, context.ref
    apt.packages(
        name="Install the repository server",
        packages=list(PACKAGES_BY_ROLE["storage"]),
        no_recommends=True,
    )
    for path in make_file_store_paths(estate, ref):
        files.directory(name=f"File store {path}", path=path, mode="755")
    files.directory(name="Repository root", path=REPOSITORY_ROOT, mode="755")
    for rest_server in make_rest_servers(estate, ref):
        _serve(estate, rest_server)


def _serve(estate: Estate, rest_server: RestServer) -> None:
    server.user(
        name=f"System user {rest_server.user}",
        user=rest_server.user,
        system=True,
        # No home: nothing (a restic or rclone cache, say) may land in the repository.
        home="/nonexistent",
        shell=NOLOGIN_SHELL,
        ensure_home=False,
    )
    files.directory(
        name=f"Repository directory {rest_server.data_directory}",
        path=rest_server.data_directory,
        user=rest_server.user,
        group=rest_server.user,
        mode="700",
    )
    salt = make_bcrypt_salt(estate.name, rest_server.repository, REST_CLIENT_USER)
    htpasswd = secret_file(
        name=f"Client credentials of repository {rest_server.repository}",
        dest=rest_server.htpasswd_path,
        content=make_htpasswd(REST_CLIENT_USER, read_secret(rest_server.password_reference), salt),
    )
    unit = files.put(
        name=f"Unit {rest_server.unit}",
        src=as_file(make_unit(rest_server)),
        dest=f"{UNIT_DIRECTORY}/{rest_server.unit}",
        mode="644",
    )
    systemd.service(
        name=f"Restart {rest_server.unit}",
        service=rest_server.unit,
        running=True,
        enabled=True,
        restarted=True,
        daemon_reload=True,
        _if=any_changed(htpasswd, unit),
    )
    systemd.service(
        name=f"Keep {rest_server.unit} running",
        service=rest_server.unit,
        running=True,
        enabled=True,
    )
