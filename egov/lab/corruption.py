"""Corrupting a file inside a host's disk, byte-exactly reversible (the corrupt-file fault).

The file is reached from this machine through the host's root (its overlay mount), never
through a path the host could redirect: a symbolic link would resolve here, so one leading
outside the host's disk is refused.
"""

from __future__ import annotations

from pathlib import Path

from egov.errors import LabInputError
from egov.lab import hosts
from egov.lab.spec import LabSpec
from egov.lab.state import Fault

CORRUPT_BYTES = 32


def make_corruption_offset(size: int, length: int, offset: int | None = None) -> int:
    """Where to flip ``length`` bytes of a ``size``-byte file: ``offset``, or the middle.

    Raise LabInputError when the range does not fit in the file.
    """
    chosen = (size - length) // 2 if offset is None else offset
    if size < length or not 0 <= chosen <= size - length:
        raise LabInputError(
            f"cannot flip {length} bytes at offset {chosen} of a {size}-byte file",
            hint="give an offset inside the file",
        )
    return chosen


def flip_bytes(data: bytes) -> bytes:
    """Every bit inverted: never equal to the input, and its own inverse."""
    return bytes(byte ^ 0xFF for byte in data)


def get_host_file(spec: LabSpec, machine: str, path: str) -> Path:
    """The regular file ``path`` of host ``machine`` as seen from this machine.

    Raise LabInputError when it is not a regular file inside the host's disk (a symbolic
    link resolves on this machine, so one pointing outside is refused, never followed).
    """
    root = hosts.get_root(spec, spec.get_host(machine)).resolve()
    file = (root / path.lstrip("/")).resolve()
    if not file.is_relative_to(root) or not file.is_file():
        raise LabInputError(f"{machine} has no regular file {path}")
    return file


def run_repair(spec: LabSpec, fault: Fault) -> None:
    """Undo one corrupt-file fault (its record holds the offset and the original bytes)."""
    file = get_host_file(spec, fault.parameters["machine"], fault.parameters["path"])
    with file.open("r+b") as handle:
        handle.seek(int(fault.parameters["offset"]))
        handle.write(bytes.fromhex(fault.parameters["original"]))
