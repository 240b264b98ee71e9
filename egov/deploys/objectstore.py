"""The ``objectstore`` role (lab only): moto's S3 server, standing in for VNPT's object storage.

moto is the most faithful S3 server the registries offer here: restic (0.14) and boto3
(versioning, object lock) both work against it. It installs from a wheelhouse tar the control
node builds (``build_requirements_wheelhouse(OBJECTSTORE_WHEELHOUSE_NAME,
OBJECTSTORE_REQUIREMENTS)``), since the hosts have no index, into its own venv, and runs as
``egov-objectstore.service`` on the port of the site's ``object_store`` endpoint.

Two things differ from VNPT's endpoint, on purpose or by nature:

- moto keeps every bucket **in memory**: restarting it or powering its host off empties the
  store. The deploy restarts it only when its venv or unit changed, and drills fault the vnpt
  site by cutting its link, never by powering it off.
- moto accepts any access key and secret: the clients still sign with the inventory's S3 keys,
  as they would at VNPT, but the stand-in does not check them.
- moto enforces object lock but no IAM: a COMPLIANCE lock refuses deletes even with the
  governance bypass header, as VNPT's would, but ``PutObjectRetention`` may rewrite it (AWS
  refuses), bucket policies are stored and not applied, and the default retention of a bucket
  that holds objects cannot be changed.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import FileContents
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from egov.deploys import topology
from egov.deploys.agent import get_wheelhouse_digest
from egov.deploys.context import DeployContext, get_context
from egov.deploys.render import as_file, render
from egov.deploys.secretfile import binary_file
from egov.hostlayout import INSTALL_ROOT, OBJECTSTORE_UNIT, UNIT_DIRECTORY

OBJECTSTORE_REQUIREMENTS = ("moto[server]==5.2.5",)
OBJECTSTORE_WHEELHOUSE_NAME = "objectstore"
#: pyinfra global data key holding the objectstore wheelhouse tar's path on the control node.
OBJECTSTORE_WHEELHOUSE_KEY = "egov_objectstore_wheelhouse"
OBJECTSTORE_VENV = f"{INSTALL_ROOT}/objectstore"
OBJECTSTORE_TAR = f"{INSTALL_ROOT}/objectstore-wheelhouse.tar"
STAMP_NAME = ".wheelhouse-sha256"
UNIT_NAME = OBJECTSTORE_UNIT


def make_install_commands(
    root: str, venv: str, tar: str, requirement: str, digest: str
) -> list[str]:
    """Shell commands installing ``requirement`` from the wheelhouse ``tar`` into ``venv``.

    venvs hard-code their own path, so each install gets its own directory (named after the
    tar's digest) and the ``venv`` symlink moves to it only once it works: a failed install
    leaves the previous one in place. The digest is recorded in the venv as ``STAMP_NAME``.
    """
    target = f"{venv}-{digest[:16]}"
    wheelhouse = f"{venv}-wheelhouse"
    return [
        f"rm -rf {wheelhouse} {target} && mkdir -p {root} {wheelhouse}",
        f"tar -xf {tar} -C {wheelhouse}",
        f"python3 -m venv {target}",
        f"{target}/bin/pip install --quiet --no-index --find-links {wheelhouse} '{requirement}'",
        f"echo {digest} > {target}/{STAMP_NAME}",
        f"ln -sfn {target} {venv}.new && mv -T {venv}.new {venv}",
        # Directories only: the uploaded tar beside them must stay, or the next deploy
        # would upload it again.
        f"find {root} -mindepth 1 -maxdepth 1 -type d -name '{Path(venv).name}-*' "
        f"! -path {target} -exec rm -rf {{}} +",
        f"rm -rf {wheelhouse}",
    ]


def make_unit(context: DeployContext) -> str:
    """The systemd unit running moto's server on the site's object store port."""
    return render(
        "objectstore/egov-objectstore.service.j2",
        venv=OBJECTSTORE_VENV,
        port=topology.get_object_store_port(context.estate, context.ref.site),
    )


def get_objectstore_wheelhouse() -> Path | None:
    """The wheelhouse tar the runner built for this role, if it passed one (inside a deploy)."""
    value = host.data.get(OBJECTSTORE_WHEELHOUSE_KEY)
    return Path(value) if value else None


@deploy("objectstore")
def objectstore() -> None:
    """Apply the objectstore role: install moto from the wheelhouse and run it."""
    context = get_context()
    tar = get_objectstore_wheelhouse()
    if tar is None:
        host.noop("no objectstore wheelhouse given: the S3 stand-in is left as it is")
        return
    digest = get_wheelhouse_digest(tar)
    files.directory(name="Install directory", path=INSTALL_ROOT, mode="755")
    binary_file(
        name="Upload the S3 server's wheelhouse", src=str(tar), dest=OBJECTSTORE_TAR, digest=digest
    )
    stamp = host.get_fact(FileContents, path=f"{OBJECTSTORE_VENV}/{STAMP_NAME}")
    changes = []
    if not stamp or stamp[0].strip() != digest:
        changes.append(
            server.shell(
                name="Install the S3 server",
                commands=make_install_commands(
                    INSTALL_ROOT,
                    OBJECTSTORE_VENV,
                    OBJECTSTORE_TAR,
                    OBJECTSTORE_REQUIREMENTS[0],
                    digest,
                ),
            )
        )
    unit = files.put(
        name="Write the S3 server's unit",
        src=as_file(make_unit(context)),
        dest=f"{UNIT_DIRECTORY}/{UNIT_NAME}",
        mode="644",
    )
    # A restart empties moto's in-memory buckets: only when what it runs changed.
    systemd.service(
        name="Restart the S3 server",
        service=UNIT_NAME,
        running=True,
        enabled=True,
        restarted=True,
        daemon_reload=True,
        _if=any_changed(*changes, unit),
    )
    systemd.service(
        name="Keep the S3 server running", service=UNIT_NAME, running=True, enabled=True
    )
