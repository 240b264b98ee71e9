"""The global operation order keeps each host's order and runs earlier roles first."""

from __future__ import annotations

import pytest
from pyinfra.api.exceptions import PyinfraError

from egov.deploys.oporder import make_op_order


def test_primary_role_runs_before_the_replica_clone() -> None:
    # base ops (1,x) shared; the primary has more of its own (2,x) than the replica (3,x).
    orders = {"b1": (1, 1), "b2": (1, 2), "p1": (2, 1), "p2": (2, 2), "p3": (2, 3), "r1": (3, 1)}
    primary = ["b1", "b2", "p1", "p2", "p3"]
    replica = ["b1", "r1"]
    order = make_op_order([primary, replica], orders)
    assert order == ["b1", "b2", "p1", "p2", "p3", "r1"]


def test_each_hosts_sequence_is_kept_even_against_call_sites() -> None:
    # a loop makes a later operation carry a smaller call site: the host order still wins
    orders = {"a": (5,), "b": (6,), "a-again": (5, 1)}
    assert make_op_order([["a", "b", "a-again"]], orders) == ["a", "b", "a-again"]


def test_a_cycle_is_refused() -> None:
    with pytest.raises(PyinfraError, match="cycle"):
        make_op_order([["a", "b"], ["b", "a"]], {"a": (1,), "b": (2,)})
