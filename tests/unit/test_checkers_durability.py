"""Durability: acknowledged writes survive the heal on every node."""

from taskraft.faults.checkers import durability
from taskraft.faults.history import Op

NODES = ("n1", "n2", "n3")


def task(tid=1, v=1, status="todo", title="t1"):
    return {"id": tid, "title": title, "description": "", "status": status, "version": v}


def history(*extra):
    ops = [
        Op(0, 1, "create", 0, 1, "ok", task_id=1, title="t1", args={"title": "t1"}, value=task()),
        Op(1, 2, "update", 2, 3, "ok", task_id=1, args={"fields": {"status": "done"}}, value=task(v=2, status="done")),
    ]
    return ops + [Op(9, 10 + i, *o[:4], **o[4]) for i, o in enumerate(extra)]


def everywhere(tasks):
    return {n: {t["id"]: t for t in tasks} for n in NODES}


def kinds(r):
    return [(v["kind"], v["node"]) for v in r.violations]


def test_acked_writes_visible_everywhere():
    r = durability.check(history(), everywhere([task(v=2, status="done")]))
    assert r.ok and r.stats["acked_writes_checked"] == 6 and "durability: ok" in r.summary()


def test_superseded_by_a_later_info_update():
    ops = history(("update", 4, 5, "info", {"task_id": 1, "args": {"fields": {"status": "todo"}}}))
    assert durability.check(ops, everywhere([task(v=3)])).ok


def test_removed_by_an_info_delete_or_a_json_round_trip_of_keys():
    ops = history(("delete", 4, 5, "info", {"task_id": 1}))
    assert durability.check(ops, everywhere([])).ok
    finals = {n: {"1": task(v=2, status="done")} for n in NODES}  # ids as JSON object keys
    assert durability.check(history(), finals).ok


def test_task_from_an_unresolved_info_create_is_not_a_phantom():
    ops = history(("create", 4, 5, "info", {"title": "late", "args": {"title": "late"}}))
    assert durability.check(ops, everywhere([task(v=2, status="done"), task(2, title="late")])).ok


def test_lost_acked_update_on_one_node():
    finals = everywhere([task(v=2, status="done")])
    finals["n3"] = {1: task(v=1)}
    r = durability.check(history(), finals)
    assert kinds(r) == [("lost_write", "n3")] and "v2" in r.violations[0]["explanation"]


def test_lost_acked_create():
    finals = everywhere([task(v=2, status="done")])
    finals["n2"] = {}
    r = durability.check(history(), finals)
    assert kinds(r) == [("lost_write", "n2")]  # one finding per node and task: the latest acked write
    assert "acked update (v2)" in r.violations[0]["explanation"]


def test_acked_delete_but_task_still_present():
    ops = history(("delete", 4, 5, "ok", {"task_id": 1}))
    finals = everywhere([])
    finals["n1"] = {1: task(v=2, status="done")}
    assert kinds(durability.check(ops, finals)) == [("deleted_task_present", "n1")]


def test_same_version_with_other_fields():
    finals = everywhere([task(v=2, status="done")])
    finals["n2"] = {1: task(v=2, status="in_progress")}
    assert kinds(durability.check(history(), finals)) == [("wrong_value", "n2")]


def test_version_no_update_could_explain():
    assert kinds(durability.check(history(), {"n1": {1: task(v=4, status="done")}})) == [("unwritten_version", "n1")]


def test_info_update_invoked_earlier_may_still_supersede():
    ops = history(("update", 0.5, 1.5, "info", {"task_id": 1}))  # an info op may take effect any time later
    assert durability.check(ops, {"n1": {1: task(v=3, status="done")}}).ok


def test_failed_update_does_not_supersede():
    ops = history(("update", 4, 5, "fail", {"task_id": 1, "error": "precondition_failed"}))
    assert kinds(durability.check(ops, {"n1": {1: task(v=3, status="done")}})) == [("unwritten_version", "n1")]


def test_phantom_task():
    r = durability.check(history(), {"n1": {1: task(v=2, status="done"), 8: task(8, title="nobody")}})
    assert kinds(r) == [("phantom_task", "n1")] and r.violations[0]["task_id"] == 8


# -- the acked create must be the create that made the task ---------------------------------------------------------


def made(tid=1, title="t1", by="n1", at="2026-01-01T00:00:00.000Z", v=1, status="todo"):
    return {**task(tid, v, status, title), "created_by": by, "created_at": at}


def create(op_id, title, tid, key, t0=0.0, t1=1.0, outcome="ok", value=None):
    value = made(tid, title) if value is None and outcome == "ok" else value
    return Op(op_id, op_id, "create", t0, t1, outcome, task_id=tid if outcome == "ok" else None, title=title,
              args={"title": title, "description": "", "status": "todo"}, value=value, key=key)


def log_row(i, key, op="create", tid=1, outcome="created", title=None):
    return {"log_index": i, "op_seq": 0, "request_id": f"key:{key}", "op": op, "task_id": tid, "outcome": outcome,
            "payload": {"title": title} if title else {"task_id": tid}}


def faked_history():
    """Task 1 is made by create `a` and updated; a create invoked meanwhile is answered 201 with task 1
    (title "fake") though it never went through the log. The version check alone lets it pass."""
    return [
        create(1, "t1", 1, "a"),
        Op(2, 2, "update", 2, 3, "ok", task_id=1, args={"fields": {"status": "done"}},
           value=made(v=2, status="done"), key="b"),
        create(3, "fake", 1, "f", t0=2.5, t1=2.6, value=made(1, "fake")),
    ]


def good_logs():
    return {n: [log_row(1, "a", title="t1"), log_row(2, "b", "update", 1, "updated")] for n in NODES}


def test_faked_create_answered_with_another_tasks_id_is_caught_by_title():
    finals = everywhere([made(v=2, status="done")])
    r = durability.check(faked_history(), finals)
    assert kinds(r) == [("wrong_task", n) for n in NODES]
    assert all(v["op"].startswith("[3 ") and "'fake'" in v["explanation"] for v in r.violations)
    assert r.stats["acked_creates_not_made"] == 1


def test_faked_create_has_no_raft_log_row():
    finals = everywhere([made(v=2, status="done")])
    r = durability.check(faked_history(), finals, raft_logs=good_logs())
    assert kinds(r) == [("create_not_applied", n) for n in NODES]
    assert "key f" in r.violations[0]["explanation"] and r.stats["acked_creates_checked"] == 6


def test_faked_create_with_an_id_nobody_made_is_one_finding_per_node():
    ops = faked_history()[:2] + [create(3, "fake", 7, "f", t0=2.5, t1=2.6)]
    finals = everywhere([made(v=2, status="done")])
    assert kinds(durability.check(ops, finals, raft_logs=good_logs())) == [("create_not_applied", n) for n in NODES]
    assert kinds(durability.check(ops, finals)) == [("lost_write", n) for n in NODES]  # no log: still lost


def test_log_row_of_the_key_made_another_task():
    logs = good_logs()
    logs["n2"] = [log_row(1, "a", tid=2, title="t1"), log_row(2, "b", "update", 1, "updated")]
    r = durability.check(faked_history()[:2], everywhere([made(v=2, status="done")]), raft_logs=logs)
    assert kinds(r) == [("wrong_task", "n2")] and "task 2" in r.violations[0]["explanation"]


def test_same_title_but_another_creation():
    finals = everywhere([made(v=2, status="done")])
    finals["n3"] = {1: made(v=2, status="done", at="2026-01-01T00:00:09.000Z")}
    r = durability.check(faked_history()[:2], finals)
    assert kinds(r) == [("wrong_task", "n3")] and "created_at" in r.violations[0]["explanation"]


def test_good_history_with_lost_response_deleted_and_retitled_creates_passes():
    ops = faked_history()[:2] + [
        create(3, "lost", None, "c", t0=4, t1=5, outcome="info"),  # response lost, applied as task 2
        create(4, "gone", 3, "d", t0=6, t1=7),  # acked, then deleted
        Op(5, 5, "delete", 8, 9, "ok", task_id=3, key="e"),
        create(6, "old", 4, "g", t0=10, t1=11, value=made(4, "old")),  # acked, then retitled
        Op(7, 7, "update", 12, 13, "info", task_id=4, args={"fields": {"title": "new"}}, key="h"),
        create(8, "never", None, "i", t0=14, t1=15, outcome="info"),  # never applied
    ]
    finals = everywhere([made(v=2, status="done"), made(2, "lost"), made(4, "new", v=2)])
    logs = {n: good_logs()[n] + [log_row(3, "c", tid=2, title="lost"), log_row(4, "d", tid=3, title="gone"),
                                 log_row(5, "e", "delete", 3, "deleted"), log_row(6, "g", tid=4, title="old"),
                                 log_row(7, "h", "update", 4, "updated")] for n in NODES}
    r = durability.check(ops, finals, raft_logs=logs)
    assert r.ok, r.violations
    assert r.stats["acked_creates_checked"] == 9 and r.stats["acked_creates_not_made"] == 0
