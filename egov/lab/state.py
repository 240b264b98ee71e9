"""What the lab has created, written down before it is created.

Each estate has ``<state>/estates/<estate>/state.json``. Every resource (bridge, ifb, nftables
table, container process, ``ip_forward`` change) is recorded *before* it is made, so that
``down`` after a killed ``up`` removes exactly what exists of it, and nothing the lab did not
make. Mounts and cgroups need no record: they are found under the estate's own paths.
Faults in force are recorded too, so ``status`` can show them and ``down`` can undo them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egov.lab.paths import get_estate_dir, get_estates_dir
from egov.lab.spec import LabSpec, spec_from_dict, spec_to_dict

STATE_FORMAT_VERSION = 1


@dataclass
class ProcessRecord:
    """A process the lab started: PID plus its kernel start time, so a reused PID is not ours."""

    pid: int
    start_ticks: int


@dataclass
class Fault:
    """A fault in force: ``kind`` (see ``faults.FAULT_KINDS``), its target and parameters.

    Example: ``Fault("shape-link", "site2", {"rate_kbit": "8000"})``.
    """

    kind: str
    target: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class LabState:
    """The record of one estate's lab."""

    spec: LabSpec
    image_key: str | None = None
    bridges: list[str] = field(default_factory=list)
    ifbs: list[str] = field(default_factory=list)
    nft_table: str | None = None
    ip_forward_before: str | None = None
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data (see ``state_from_dict``)."""
        return {
            "format": STATE_FORMAT_VERSION,
            "spec": spec_to_dict(self.spec),
            "image_key": self.image_key,
            "bridges": list(self.bridges),
            "ifbs": list(self.ifbs),
            "nft_table": self.nft_table,
            "ip_forward_before": self.ip_forward_before,
            "processes": {name: asdict(record) for name, record in self.processes.items()},
            "faults": [asdict(fault) for fault in self.faults],
        }

    def find_faults(self, kind: str, target: str | None = None) -> list[Fault]:
        """Return the faults in force of ``kind`` (and ``target`` when given)."""
        return [f for f in self.faults if f.kind == kind and target in (None, f.target)]

    def remove_faults(self, kind: str, target: str) -> None:
        """Forget the faults of ``kind`` on ``target``."""
        self.faults = [f for f in self.faults if not (f.kind == kind and f.target == target)]


def state_from_dict(data: dict[str, Any]) -> LabState:
    """Inverse of ``LabState.to_dict``."""
    return LabState(
        spec=spec_from_dict(data["spec"]),
        image_key=data.get("image_key"),
        bridges=list(data.get("bridges", [])),
        ifbs=list(data.get("ifbs", [])),
        nft_table=data.get("nft_table"),
        ip_forward_before=data.get("ip_forward_before"),
        processes={
            name: ProcessRecord(**record) for name, record in data.get("processes", {}).items()
        },
        faults=[Fault(**fault) for fault in data.get("faults", [])],
    )


def get_state_path(estate: str) -> Path:
    """Return the state file of ``estate``."""
    return get_estate_dir(estate) / "state.json"


def load_state(estate: str) -> LabState | None:
    """Return the recorded state of ``estate``, or None when it has none."""
    path = get_state_path(estate)
    if not path.is_file():
        return None
    return state_from_dict(json.loads(path.read_text()))


def save_state(state: LabState) -> None:
    """Write ``state`` atomically (a crash leaves the old or the new file, never half of one)."""
    path = get_state_path(state.spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state.to_dict(), indent=2) + "\n")
    temporary.replace(path)


def list_estates() -> list[str]:
    """Return the estates that have a recorded state."""
    directory = get_estates_dir()
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if (p / "state.json").is_file())


@contextlib.contextmanager
def estate_lock(estate: str) -> Iterator[None]:
    """Serialise lab operations on one estate between processes (up, down, faults)."""
    directory = get_estate_dir(estate)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
