"""History checkers for the fault suite. Each is pure (no I/O) and returns a `Result`:
{checker, ok, violations: [...], stats: {...}} with a one-line `summary()`.

    linearizability.check(history, *, initial=None, max_steps=300_000, time_limit=5.0)
    durability.check(history, final_states, *, initial=None, raft_logs=None)
    exactly_once.check(raft_logs, *, history=None, final_states=None)
    convergence.check(checksums, applied_index=None)
    liveness.check(heal_times, write_times, bound, *, end_time=None)
"""

from __future__ import annotations

from . import convergence, durability, exactly_once, linearizability, liveness
from .result import Result

REGISTRY = {m.NAME: m.check for m in (linearizability, durability, exactly_once, convergence, liveness)}


def run_all(
    history,
    *,
    final_states=None,
    raft_logs=None,
    checksums=None,
    applied_index=None,
    heal_times=None,
    liveness_bound: float = 30.0,
    end_time=None,
    initial=None,
    lin_max_steps: int = 300_000,
    lin_time_limit: float = 5.0,
) -> dict[str, Result]:
    """Run every checker whose inputs were given; returns {name: Result}."""
    results = {
        linearizability.NAME: linearizability.check(
            history, initial=initial, max_steps=lin_max_steps, time_limit=lin_time_limit
        )
    }
    if final_states is not None:
        results[durability.NAME] = durability.check(history, final_states, initial=initial, raft_logs=raft_logs)
    if raft_logs is not None:
        results[exactly_once.NAME] = exactly_once.check(raft_logs, history=history, final_states=final_states)
    if checksums is not None:
        results[convergence.NAME] = convergence.check(checksums, applied_index)
    if heal_times is not None:
        results[liveness.NAME] = liveness.check(
            heal_times, liveness.write_times(history), liveness_bound, end_time=end_time
        )
    return results


__all__ = ["REGISTRY", "Result", "run_all", "convergence", "durability", "exactly_once", "linearizability", "liveness"]
