"""egov's side of ``backup_overhead.py``, run as a process of its own (as ``egov agent
backup`` and ``egov backup restore --verify`` are), so that its peak RSS is egov's alone.

    python bench/egov_side.py backup  SPEC.json
    python bench/egov_side.py restore SPEC.json

``backup`` runs ``run_agent_backup`` with a one-dataset ``AgentConfig`` whose repository is a
local directory (what ``egov agent backup`` runs); ``restore`` runs ``restore_dataset`` with
``verify=True`` and ``kind=FILES`` (what ``egov backup restore --verify`` runs: the manifest
found, restic's ``restore --verify``, then every restored file compared with the manifest).
Prints one JSON line: the files backed up or compared, and this process's own peak RSS
(``VmHWM`` from /proc/self/status: the high-water mark since exec, not the parent's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from egov.backup.agent import AgentSettings
from egov.backup.agentconfig import AgentConfig
from egov.backup.datasetbackup import run_agent_backup
from egov.backup.datasetrestore import restore_dataset
from egov.backup.datasets import BackupJob, make_dataset_tags
from egov.backup.repositories import AccessKind, RepositoryConfig
from egov.errors import EgovError
from egov.inventory.backup import DatasetKind

DATASET = "bench-files"
SITE = "bench"
HOST = "bench-files-01"


def make_agent_config(repository: Path, password_file: Path, tree: Path) -> AgentConfig:
    """The smallest honest agent configuration: one files dataset, one local repository."""
    config = RepositoryConfig(
        name="local",
        site=SITE,
        kind=AccessKind.LOCAL,
        location=str(repository),
        password=f"file:{password_file}",
    )
    job = BackupJob(
        dataset=DATASET,
        kind=DatasetKind.FILES,
        host=HOST,
        site=SITE,
        repository=config.name,
        paths=[str(tree)],
        tags=make_dataset_tags(DATASET, SITE),
    )
    return AgentConfig(
        estate="bench", site=SITE, host=HOST, jobs=[job], repositories={config.name: config}
    )


def read_vmhwm_kib() -> int:
    """This process's peak resident memory since exec, KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    phase, spec_path = sys.argv[1], Path(sys.argv[2])
    spec = json.loads(spec_path.read_text())
    directory = Path(spec["directory"])
    config = make_agent_config(
        Path(spec["repository"]), Path(spec["password_file"]), Path(spec["tree"])
    )
    settings = AgentSettings(
        state_dir=directory / "egov-state",
        cache_dir=directory / "egov-cache",
        textfile_directory=directory / "egov-textfile",
    )
    try:
        if phase == "backup":
            [record] = run_agent_backup(config, settings)
            files = record.files_processed
        else:
            restored = restore_dataset(
                config.repositories["local"],
                DATASET,
                Path(spec["target"]),
                settings,
                verify=True,
                kind=DatasetKind.FILES,
            )
            if not restored.compared:
                sys.exit(f"egov restore did not compare with the manifest: {restored.note}")
            files = -1
    except EgovError as error:
        sys.exit(f"egov {phase} failed: {error.message}")
    print(json.dumps({"files": files, "vmhwm_kib": read_vmhwm_kib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
