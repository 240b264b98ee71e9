"""The baseline's check of a restore in ``backup_overhead.py``: a BLAKE3 pass over the
restored files, compared with the source's digests (the same hash egov's manifest holds).

    python bench/checksum_pass.py DIGESTS ROOT

``DIGESTS`` has one ``<hex digest> <absolute source path>`` per line; each file is read
under ``ROOT`` (restic restores absolute paths below its target). Exits 1 naming how many
files are missing or differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from blake3 import blake3

READ_BYTES = 1 << 20


def digest_file(path: str) -> str:
    """The BLAKE3 hex digest of the file at ``path``."""
    hasher = blake3()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


def main() -> int:
    digests, root = sys.argv[1], sys.argv[2].rstrip("/")
    bad = checked = 0
    with Path(digests).open(encoding="utf-8") as lines:
        for line in lines:
            expected, _, path = line.rstrip("\n").partition(" ")
            try:
                same = digest_file(f"{root}{path}") == expected
            except OSError:
                same = False
            bad += not same
            checked += 1
    if bad:
        print(f"{bad} of {checked} restored files missing or different", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
