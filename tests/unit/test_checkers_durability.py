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
