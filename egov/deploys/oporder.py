"""One global order for the operations of every host of a deploy, as ``site.py`` declares it.

Pure: given each host's sequence of operation hashes and each operation's call site, return
the order lockstep execution follows (``pyinfraapi.py`` hands it to pyinfra).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from pyinfra.api.exceptions import PyinfraError


def make_op_order(
    sequences: list[list[str]], op_orders: Mapping[str, tuple[int, ...]]
) -> list[str]:
    """A global operation order: each host's own order kept, ties broken by call site.

    pyinfra orders operations by levels of their dependency graph, so a replica whose earlier
    operations are fewer reaches "clone the primary" before the primary has created the
    replication role. Taking always the ready operation with the smallest call site (Kahn's
    algorithm with a priority queue) runs the whole ``db`` role before any ``db-replica``
    operation, as ``site.py`` orders them. Raise PyinfraError on a cycle.
    """
    successors: dict[str, set[str]] = {}
    waiting: dict[str, int] = {}
    for sequence in sequences:
        for index, op_hash in enumerate(sequence):
            successors.setdefault(op_hash, set())
            waiting.setdefault(op_hash, 0)
            if index and op_hash not in successors[sequence[index - 1]]:
                successors[sequence[index - 1]].add(op_hash)
                waiting[op_hash] += 1
    ready = [(op_orders[op_hash], op_hash) for op_hash, count in waiting.items() if not count]
    heapq.heapify(ready)
    order = []
    while ready:
        _, op_hash = heapq.heappop(ready)
        order.append(op_hash)
        for successor in successors[op_hash]:
            waiting[successor] -= 1
            if not waiting[successor]:
                heapq.heappush(ready, (op_orders[successor], successor))
    if len(order) != len(waiting):
        raise PyinfraError("the operations of different hosts are ordered in a cycle")
    return order
