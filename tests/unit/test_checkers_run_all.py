"""run_all runs every checker whose inputs are given and reports through the common Result."""

from taskraft.faults.checkers import REGISTRY, run_all
from taskraft.faults.history import History


def _history():
    ticks = iter(float(i) for i in range(100))
    h = History(clock=lambda: next(ticks))
    c = h.invoke(1, "create", title="t1", args={"title": "t1"}, key="k1")
    h.ok(c, {"id": 1, "title": "t1", "description": "", "status": "todo", "version": 1}, attempts=2)
    r = h.invoke(2, "read", task_id=1)
    h.ok(r, {"id": 1, "title": "t1", "description": "", "status": "todo", "version": 1})
    return h


def test_registry_names():
    assert set(REGISTRY) == {"linearizability", "durability", "exactly_once", "convergence", "liveness"}


def test_run_all_good_run():
    final = {n: {1: {"id": 1, "title": "t1", "description": "", "status": "todo", "version": 1}} for n in ("a", "b")}
    logs = {n: [{"log_index": 3, "request_id": "key:k1", "op": "create", "task_id": 1}] for n in ("a", "b")}
    results = run_all(_history(), final_states=final, raft_logs=logs, checksums={"a": {"tasks": 1}, "b": {"tasks": 1}},
                      applied_index={"a": 3, "b": 3}, heal_times=[0.5], liveness_bound=5)
    assert list(results) == ["linearizability", "durability", "exactly_once", "convergence", "liveness"]
    assert all(r.ok for r in results.values()), [r.summary() for r in results.values()]
    assert results["liveness"].stats["recovery"] == [0.5]  # the create completed at 1.0
    assert results["exactly_once"].stats["retried_keys"] == 1


def test_run_all_reports_each_failing_checker():
    results = run_all(_history(), final_states={"a": {}}, checksums={"a": {"tasks": 1}, "b": {"tasks": 2}})
    assert sorted(name for name, r in results.items() if not r.ok) == ["convergence", "durability"]
    assert results["durability"].to_dict()["violations"][0]["kind"] == "lost_write"
    assert results["durability"].summary().startswith("durability: FAIL (1 violations)")
