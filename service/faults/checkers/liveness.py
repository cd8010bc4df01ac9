"""Liveness: after every heal some write succeeds within `bound` seconds; records the time to recover."""

from __future__ import annotations

import bisect

from ..history import OK, WRITES, as_ops
from .result import Result, make, percentile

NAME = "liveness"


def write_times(history) -> list[float]:
    """Completion times of the acknowledged writes in a history."""
    return sorted(o.complete for o in as_ops(history) if o.f in WRITES and o.outcome == OK and o.complete is not None)


def check(heal_times: list[float], write_times: list[float], bound: float, *, end_time: float | None = None) -> Result:
    """heal_times and write_times on the history's clock. A heal closer than `bound` to `end_time` with
    no write after it is inconclusive (counted), not a violation."""
    writes = sorted(write_times)
    violations, recovery, inconclusive = [], [], 0
    for heal in sorted(heal_times):
        i = bisect.bisect_left(writes, heal)
        if i < len(writes):
            took = writes[i] - heal
            recovery.append(took)
            if took > bound:
                violations.append(
                    {
                        "kind": "slow_recovery",
                        "heal": heal,
                        "recovery": took,
                        "explanation": f"first write after the heal at {heal:.3f} took {took:.3f}s > {bound}s",
                    }
                )
        elif end_time is not None and end_time - heal < bound:
            inconclusive += 1
        else:
            violations.append(
                {
                    "kind": "no_write_after_heal",
                    "heal": heal,
                    "recovery": None,
                    "explanation": f"no write succeeded after the heal at {heal:.3f}",
                }
            )
    stats = {
        "heals": len(heal_times),
        "recovered": len(recovery),
        "inconclusive": inconclusive,
        "bound": bound,
        "recovery": [round(r, 3) for r in recovery],
        "p50": percentile(recovery, 50),
        "p90": percentile(recovery, 90),
        "max": max(recovery, default=None),
        "violations": len(violations),
    }
    return make(NAME, violations, stats)
