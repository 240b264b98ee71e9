"""Jobs of one night that share a disk or a link: how much longer each takes. Pure.

A stream moves ``amount`` (bytes, or seconds for a job with a fixed duration) from
``earliest`` on, once every stream in ``after`` has ended, at no more than its own ``cap``
(what it would get alone). It may use shared resources (a database host's reads, a link,
a site's outbound bandwidth), each with a capacity.

The model: **while streams overlap on a resource, each gets an equal share of it** (its
rate is the least of its cap and, for every resource it uses, the capacity divided by the
streams active on it), recomputed whenever a stream starts or ends. Equal shares are what
concurrent TCP streams on one link and concurrent sequential readers of one disk get,
roughly; running them one after the other instead would finish the first sooner and the
last no sooner, and the plan cares about when the last ends. A share a stream cannot use
(capped lower by its cap or another resource) is not handed to the others: the prediction
errs long, never short, by at most that share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    """One job of the night as the sharing sees it."""

    key: int
    amount: float
    cap: float
    earliest: float
    uses: tuple[str, ...] = ()
    after: tuple[int, ...] = ()


@dataclass(frozen=True)
class Timed:
    """When a stream ran, and whether sharing slowed or delayed it."""

    start: float
    end: float
    shared: bool


def _rates(active: Sequence[Stream], capacity: Mapping[str, float]) -> dict[int, float]:
    users: dict[str, int] = {}
    for stream in active:
        for name in stream.uses:
            users[name] = users.get(name, 0) + 1
    return {
        stream.key: min(
            [
                stream.cap,
                *(capacity[name] / users[name] for name in stream.uses if name in capacity),
            ]
        )
        for stream in active
    }


def share(streams: Sequence[Stream], capacity: Mapping[str, float]) -> dict[int, Timed]:
    """When each of ``streams`` starts and ends, sharing ``capacity`` (resource → per second)
    equally while they overlap. Every ``after`` must name a stream of ``streams``."""
    by_key = {stream.key: stream for stream in streams}
    ended: dict[int, float] = {}
    started: dict[int, float] = {}
    left = {stream.key: stream.amount for stream in streams}
    rate: dict[int, float] = {}
    since: dict[int, float] = {}
    shared: set[int] = set()
    now = -math.inf
    while len(ended) < len(streams):
        waiting = [
            s for s in streams if s.key not in started and all(key in ended for key in s.after)
        ]
        ready_at = {s.key: max([s.earliest, *(ended[key] for key in s.after)]) for s in waiting}
        finish = {key: since[key] + left[key] / rate[key] for key in rate if rate[key] > 0}
        candidates = [*ready_at.values(), *finish.values()]
        if not candidates:
            stalled = sorted(key for key, value in rate.items() if value <= 0)
            if stalled:  # started, but a resource they use has nothing to give
                raise ValueError(
                    f"streams {stalled} can never end: a resource they use has no capacity"
                )
            raise ValueError("streams that can never start: a cycle in `after`")
        now = max(min(candidates), now)
        for key, end in finish.items():
            if end <= now:
                ended[key] = end
                del rate[key]
        for stream in waiting:
            if ready_at[stream.key] <= now:
                started[stream.key] = now
        active = [by_key[key] for key in started if key not in ended]
        for key, new in _rates(active, capacity).items():
            if key in rate and new == rate[key]:
                continue
            if key in rate:
                left[key] -= rate[key] * (now - since[key])
            rate[key], since[key] = new, now
            if new < by_key[key].cap * (1 - 1e-9):  # not a rounding of the same rate
                shared.add(key)
            if left[key] <= 0 or new == math.inf:
                ended[key] = now
                del rate[key]
    return {key: Timed(started[key], ended[key], key in shared) for key in by_key}
