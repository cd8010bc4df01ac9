"""The per-task WGL linearizability checker on known-good and known-bad histories."""

import time

from taskraft.faults.checkers import linearizability
from taskraft.faults.history import History, Op


def task(tid=1, v=1, status="todo", title="t1", description=""):
    return {"id": tid, "title": title, "description": description, "status": status, "version": v}


class H:
    """A compact history builder: each call adds one op with [invoke, complete]."""

    def __init__(self):
        self.ops = []

    def add(self, f, t0, t1, outcome="ok", p=0, **kw):
        self.ops.append(Op(p, len(self.ops) + 1, f, t0, t1, outcome, **kw))
        return self

    def create(self, t0, t1, outcome="ok", tid=1, title="t1", status="todo", **kw):
        value = task(tid, 1, status, title) if outcome == "ok" else None
        return self.add("create", t0, t1, outcome, task_id=tid if outcome == "ok" else None, title=title,
                        args={"title": title, "status": status}, value=value, **kw)

    def read(self, t0, t1, value, tid=1, **kw):
        return self.add("read", t0, t1, "ok", task_id=tid, value=value, **kw)

    def update(self, t0, t1, outcome="ok", tid=1, status="done", if_match=None, value=None, error=None, **kw):
        return self.add("update", t0, t1, outcome, task_id=tid, args={"fields": {"status": status}, "if_match": if_match},
                        value=value, error=error, **kw)

    def delete(self, t0, t1, outcome="ok", tid=1, if_match=None, error=None, **kw):
        return self.add("delete", t0, t1, outcome, task_id=tid, args={"if_match": if_match}, error=error, **kw)

    def check(self, **kw):
        return linearizability.check(self.ops, **kw)


def kinds(result):
    return [v["kind"] for v in result.violations]


# ---- known good ----------------------------------------------------------------------------------

def test_sequential_lifecycle_is_linearizable():
    h = (H().read(0, 1, None).create(2, 3).read(4, 5, task()).update(6, 7, if_match=1, value=task(v=2, status="done"))
         .update(8, 9, "fail", if_match=1, error="precondition_failed").read(10, 11, task(v=2, status="done"))
         .delete(12, 13).read(14, 15, None).update(16, 17, "fail", error="not_found")
         .delete(18, 19, "fail", error="not_found"))
    r = h.check()
    assert r.ok, r.violations
    assert r.stats["tasks"] == 1 and r.stats["checked_entries"] == 10 and r.stats["unknown"] == 0
    assert "linearizability: ok" in r.summary()


def test_concurrent_read_may_see_either_version():
    for seen in (task(v=1), task(v=2, status="done")):
        h = H().create(0, 1).update(2, 6, value=task(v=2, status="done")).read(3, 5, seen, p=1)
        assert h.check().ok


def test_info_update_may_take_effect_after_a_later_read():
    h = (H().create(0, 1).update(2, 3, "info").read(4, 5, task(v=1), p=1)
         .read(6, 7, task(v=2, status="done"), p=2))
    assert h.check().ok


def test_info_update_may_never_take_effect():
    h = H().create(0, 1).update(2, 3, "info").read(10, 11, task(v=1), p=1)
    assert h.check().ok


def test_info_create_matched_by_title_through_a_list():
    h = H().read(0, 1, None, tid=4).create(0.5, 2, "info", title="lost").add("list", 3, 4, value=[task(4, 1, title="lost")])
    r = h.check()
    assert r.ok and r.stats["tasks"] == 1 and r.stats["unresolved_creates"] == 0


def test_orphan_task_may_come_from_an_unresolved_info_create():
    # Update on task 3 fails with precondition_failed: the task exists, created by the info create.
    h = H().create(0, 1, "info", title="ghost").update(2, 3, "fail", tid=3, if_match=7, error="precondition_failed")
    assert h.check().ok


def test_local_reads_are_not_checked():
    h = H().create(0, 1).update(2, 3, value=task(v=2, status="done")).read(4, 5, task(v=1), args={"consistency": "local"})
    r = h.check()
    assert r.ok and r.stats["skipped_ops"] == 1


def test_recorded_history_round_trip_is_checked():
    h = History(clock=iter(range(100)).__next__)
    c = h.invoke(1, "create", title="t1", args={"title": "t1"})
    h.ok(c, task())
    u = h.invoke(2, "update", task_id=1, args={"fields": {"status": "done"}, "if_match": 1})
    h.ok(u, task(v=2, status="done"))
    r = h.invoke(3, "read", task_id=1)
    h.ok(r, task(v=2, status="done"))
    assert linearizability.check(History.from_jsonl(h.to_jsonl())).ok


# ---- known bad -----------------------------------------------------------------------------------

def test_stale_read_after_acked_update():
    h = H().create(0, 1).update(2, 3, value=task(v=2, status="done")).read(4, 5, task(v=1), p=7)
    r = h.check()
    assert not r.ok and kinds(r) == ["stale_read"]
    v = r.violations[0]
    assert v["task_id"] == 1 and "p7 read" in v["op"] and "v1" in v["explanation"]
    assert len(v["ops"]) == 2 and "update" in v["ops"][0] and "read" in v["ops"][1]  # the acked update, then the read
    assert "FAIL (1 violations)" in r.summary()


def test_read_of_a_version_never_written():
    h = H().create(0, 1).update(2, 3, value=task(v=2, status="done")).read(4, 5, task(v=5, status="done"))
    assert kinds(h.check()) == ["unwritten_read"]


def test_read_of_wrong_fields_at_the_right_version():
    h = H().create(0, 1).update(2, 3, value=task(v=2, status="done")).read(4, 5, task(v=2, status="in_progress"))
    assert kinds(h.check()) == ["bad_read"]


def test_acked_create_then_not_found():
    h = H().create(0, 1).read(2, 3, None)
    assert kinds(h.check()) == ["lost_task"]


def test_read_of_deleted_task():
    h = H().create(0, 1).delete(2, 3).read(4, 5, task())
    assert kinds(h.check()) == ["phantom_read"]


def test_update_acked_despite_stale_if_match():
    h = (H().create(0, 1).update(2, 3, value=task(v=2, status="done"))
         .update(4, 5, if_match=1, status="todo", value=task(v=3, status="todo")))
    assert kinds(h.check()) == ["bad_update_ok"]


def test_precondition_failed_although_version_matched():
    h = H().create(0, 1).update(2, 3, "fail", if_match=1, error="precondition_failed")
    assert kinds(h.check()) == ["bad_update_fail"]


def test_delete_not_found_on_live_task():
    h = H().create(0, 1).delete(2, 3, "fail", error="not_found")
    assert kinds(h.check()) == ["bad_delete_fail"]


def test_update_applied_twice():
    # One acked update, but the next read shows two increments (a retry applied twice).
    h = H().create(0, 1).update(2, 3, value=task(v=2, status="done")).read(4, 5, task(v=3, status="done"))
    assert kinds(h.check()) == ["unwritten_read"]


def test_info_update_cannot_act_before_its_invoke():
    h = H().create(0, 1).read(2, 3, task(v=2, status="done")).update(4, 5, "info")
    assert kinds(h.check()) == ["unwritten_read"]


def test_stale_version_in_a_list():
    h = H().create(0, 1).update(2, 3, value=task(v=2, status="done")).add("list", 4, 5, value=[task(v=1)])
    r = h.check()
    assert kinds(r) == ["stale_read"] and "list" in r.violations[0]["op"]


def test_one_create_seen_under_two_ids():
    h = H().create(0, 1, "info", title="dup").read(2, 3, task(1, title="dup")).read(2, 3, task(2, title="dup"), tid=2)
    r = h.check()
    assert "duplicate_create" in kinds(r)
    assert [v for v in r.violations if v["kind"] == "duplicate_create"][0]["task_id"] == [1, 2]


def test_violation_on_one_task_does_not_hide_others():
    h = (H().create(0, 1).read(2, 3, None)  # task 1: lost
         .create(0, 1, tid=2, title="t2").read(2, 3, task(2, title="t2")))  # task 2: fine
    r = h.check()
    assert [v["task_id"] for v in r.violations] == [1] and r.stats["tasks"] == 2


# ---- bounded search ------------------------------------------------------------------------------

def _pathological():
    h = H().create(0, 1)
    for p in range(30):
        h.update(2, 3, "info", p=p, status="done")
    return h.read(4, 5, task(v=99, status="done"))  # impossible: forces a full search


def test_pathological_history_hits_the_step_budget_quickly():
    started = time.monotonic()
    r = _pathological().check(max_steps=20_000)
    assert time.monotonic() - started < 3
    assert r.ok and r.stats["unknown"] == 1
    assert r.stats["unknown_tasks"][0]["task_id"] == 1 and r.stats["unknown_tasks"][0]["reason"] == "step budget"


def test_pathological_history_hits_the_time_limit_quickly():
    started = time.monotonic()
    r = _pathological().check(max_steps=10**12, time_limit=0.5)
    assert time.monotonic() - started < 3
    assert r.stats["unknown_tasks"][0]["reason"] == "time limit"


def test_many_concurrent_definite_ops_are_still_decided():
    # 12 acked concurrent updates without If-Match and reads of each version: memoization keeps this small.
    h = H().create(0, 1)
    for p in range(12):
        h.update(2, 3, p=p, value=task(v=p + 2, status="done"))
    for p in range(12):
        h.read(4, 5, task(v=13, status="done"), p=100 + p)
    r = h.check()
    assert r.ok and r.stats["unknown"] == 0


# ---- generated histories -------------------------------------------------------------------------

def _simulate(seed, n_ops=40, n_procs=5):
    """Ops applied atomically at a random point inside their interval: always linearizable."""
    import random

    rnd = random.Random(seed)
    plans, clock = [], [0.0] * n_procs
    for k in range(n_ops):
        p = rnd.randrange(n_procs)
        t0 = clock[p] + rnd.random()
        t1 = t0 + rnd.random() * 3
        clock[p] = t1
        f = rnd.choice(["create", "read", "read", "update", "update", "delete", "list"]) if k > 2 else "create"
        plans.append((rnd.uniform(t0, t1), t0, t1, p, f, k))
    db, next_id, ops = {}, 1, []
    for lin, t0, t1, p, f, k in sorted(plans):
        tid = rnd.randint(1, 3)
        outcome, value, error, args, title = "ok", None, None, {}, None
        if f == "create":
            title, tid = f"t{k}", next_id
            next_id += 1
            db[tid] = task(tid, 1, title=title)
            value, args = dict(db[tid]), {"title": title, "status": "todo"}
        elif f == "read":
            value = dict(db[tid]) if tid in db else None
        elif f == "list":
            value, tid = [dict(t) for t in db.values()], None
        else:
            if_match = rnd.choice([None, 1, 2, 3])
            args = {"if_match": if_match}
            if f == "update":
                args["fields"] = {"status": rnd.choice(["todo", "in_progress", "done"])}
            if tid not in db:
                outcome, error = "fail", "not_found"
            elif if_match is not None and if_match != db[tid]["version"]:
                outcome, error = "fail", "precondition_failed"
            elif f == "update":
                db[tid] = dict(db[tid], version=db[tid]["version"] + 1, **args["fields"])
                value = dict(db[tid])
            else:
                del db[tid]
        if f != "read" and f != "list" and rnd.random() < 0.2:
            outcome, value, error = "info", None, None
        ops.append(Op(p, k + 1, f, t0, t1, outcome, task_id=None if (f == "create" and outcome == "info") else tid,
                      title=title, args=args, value=value, error=error))
    return ops


def test_generated_linearizable_histories_pass():
    for seed in range(60):
        r = linearizability.check(_simulate(seed))
        assert r.ok and r.stats["unknown"] == 0, (seed, r.violations)


def test_generated_histories_with_a_corrupted_read_fail():
    caught = 0
    for seed in range(60):
        ops = _simulate(seed)
        reads = [o for o in ops if o.f == "read" and isinstance(o.value, dict)]
        if not reads:
            continue
        reads[-1].value = dict(reads[-1].value, version=reads[-1].value["version"] + 50)
        r = linearizability.check(ops)
        assert not r.ok and "unwritten_read" in kinds(r), seed
        caught += 1
    assert caught > 30
