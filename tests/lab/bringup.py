"""A lab of an inventory up for the tests that need it, and down again: one place for both suites.

``tests/lab/conftest.py``'s session-wide ``lab`` (Cà Mau's lab) and the second province's
module fixture (``tests/lab_songxanh/``) bring their labs up the same way; this is that way.
It is a plain module, not a conftest, so the second province's run imports it without loading
the first suite's fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import egov.lab as api
from egov.errors import LabInputError
from egov.inventory import load_estate
from egov.lab.estate import create_lab_secrets, make_lab_spec
from egov.lab.spec import LabSpec
from egov.lab.state import load_state


@contextmanager
def running_lab(inventory: Path) -> Iterator[LabSpec]:
    """Yield the spec of ``inventory``'s lab, up and with its secrets made.

    Skip (a failure in CI, see ``tests/conftest.py``) where the lab cannot run: not root, or a
    host prerequisite missing. A lab already up before is reused and left up; otherwise it is
    taken down with its host disks purged when the block ends, also when the block raises.
    """
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    try:
        api.check_host_prerequisites()
    except LabInputError as error:
        pytest.skip(f"the lab cannot run here: {error.message}")
    estate = load_estate(inventory).estate
    spec = make_lab_spec(estate)
    was_up = load_state(spec.name) is not None
    api.lab_up(spec)
    create_lab_secrets(estate)
    try:
        yield spec
    finally:
        if not was_up:
            api.lab_down(spec, purge=True)
