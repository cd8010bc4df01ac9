"""Exactly-once: the raft_log holds each request once and no retried create is applied twice."""

from taskraft.faults.checkers import exactly_once
from taskraft.faults.history import History, Op


def row(i, rid, op="update", task_id=1, outcome=None, title=None, seq=0):
    r = {"log_index": i, "op_seq": seq, "request_id": rid, "op": op, "task_id": task_id}
    if outcome:
        r["outcome"] = outcome
    if title:
        r["payload"] = {"title": title}
    return r


def good_log():
    return [row(1, "key:a", "create", 1, "created", "t1"), row(2, "key:b", "update", 1, "updated"),
            row(2, "r-x", "update", 1, "not_found", seq=1), row(3, "key:c", "delete", 1, "deleted")]


def kinds(r):
    return sorted(v["kind"] for v in r.violations)


def test_distinct_request_ids_on_agreeing_nodes():
    hist = [Op(0, 1, "update", 0, 1, "ok", task_id=1, key="b", attempts=3)]
    r = exactly_once.check({n: good_log() for n in ("n1", "n2", "n3")}, history=hist,
                           final_states={"n1": {1: {"id": 1, "title": "t1"}, 2: {"id": 2, "title": "t2"}}})
    assert r.ok and r.stats["rows"] == 12 and r.stats["retried_keys"] == 1 and r.stats["retried_keys_applied"] == 1


def test_request_id_logged_twice():
    log = good_log() + [row(4, "key:b", "update", 1, "updated")]
    r = exactly_once.check({"n1": log, "n2": good_log()})
    assert kinds(r) == ["duplicate_request_id", "key_applied_twice"]
    dup = [v for v in r.violations if v["kind"] == "duplicate_request_id"][0]
    assert dup["node"] == "n1" and dup["request_id"] == "key:b" and dup["positions"] == [(2, 0), (4, 0)]


def test_rejected_replay_is_not_an_applied_change_but_still_a_duplicate_id():
    log = good_log() + [row(5, "key:c", "delete", 1, "not_found")]
    assert kinds(exactly_once.check({"n1": log})) == ["duplicate_request_id"]


def test_create_applied_twice_under_different_request_ids():
    log = good_log() + [dict(row(6, "r-retry", "create", 2, "created"), payload='{"title": "t1"}')]  # JSON text too
    r = exactly_once.check({"n1": log})
    assert kinds(r) == ["create_applied_twice"] and r.violations[0]["positions"] == [(1, 0), (6, 0)]


def test_request_at_different_positions_on_different_nodes():
    other = good_log()
    other[1] = row(7, "key:b", "update", 1, "updated")
    r = exactly_once.check({"n1": good_log(), "n2": other})
    assert kinds(r) == ["request_position_differs"] and r.violations[0]["positions"] == {"n1": (2, 0), "n2": (7, 0)}


def test_two_tasks_with_one_create_title_in_the_final_state():
    hist = [Op(0, 1, "create", 0, 1, "info", title="t1", args={"title": "t1"}, key="a", attempts=2)]
    finals = {"n1": {1: {"id": 1, "title": "t1"}, 2: {"id": 2, "title": "t1"}}}
    r = exactly_once.check({"n1": good_log()}, history=hist, final_states=finals)
    assert kinds(r) == ["create_applied_twice"] and r.violations[0]["task_ids"] == [1, 2]


# -- an acknowledged write must have been applied ------------------------------------------------------------------

NODES = ("n1", "n2", "n3")


def acked(op_id, f, key, outcome="ok", t=0.0, **kw):
    return Op(op_id, op_id, f, t, t + 1, outcome, key=key, **kw)


def test_acked_create_never_applied_is_a_violation_on_every_node():
    hist = [acked(1, "create", "a", task_id=1, title="t1"), acked(2, "update", "b", task_id=1),
            acked(3, "delete", "c", task_id=1), acked(4, "create", "f", task_id=1, title="fake")]
    r = exactly_once.check({n: good_log() for n in NODES}, history=hist)
    assert kinds(r) == ["acked_key_not_applied"] * 3
    assert {v["node"] for v in r.violations} == set(NODES) and {v["key"] for v in r.violations} == {"f"}
    assert r.stats["acked_keys"] == 4 and r.stats["acked_keys_not_applied"] == 1


def test_acked_update_whose_row_changed_nothing():
    log = good_log()
    log[1] = row(2, "key:b", "update", 1, "precondition_failed")
    r = exactly_once.check({"n1": log}, history=[acked(2, "update", "b", task_id=1)])
    assert kinds(r) == ["acked_key_not_changed"] and r.violations[0]["position"] == (2, 0)


def test_unacknowledged_or_keyless_writes_need_no_row():
    hist = [
        acked(1, "create", "a", task_id=1, title="t1"),
        acked(2, "create", "lost", "info", title="lost"),  # response lost: may never have been applied
        acked(3, "update", "x", "fail", task_id=1, error="precondition_failed"),
        acked(4, "update", None, task_id=1),  # no key: nothing to look up
        acked(5, "read", None, task_id=1),
        acked(6, "delete", "c", task_id=1),
    ]
    r = exactly_once.check({n: good_log() for n in NODES}, history=hist)
    assert r.ok, r.violations
    assert r.stats["acked_keys"] == 2 and r.stats["acked_keys_not_applied"] == 0


def test_keys_come_from_the_recorded_history():
    ticks = iter(float(i) for i in range(100))
    h = History(clock=lambda: next(ticks))
    ok = h.invoke(1, "create", title="t1", args={"title": "t1"}, key="a")
    h.ok(ok, {"id": 1, "title": "t1", "version": 1}, attempts=2)
    fake = h.invoke(2, "create", title="fake", args={"title": "fake"}, key="f")
    h.ok(fake, {"id": 2, "title": "fake", "version": 1})
    back = History.from_jsonl(h.to_jsonl())
    r = exactly_once.check({"n1": good_log()}, history=back)
    assert [(v["kind"], v["key"]) for v in r.violations] == [("acked_key_not_applied", "f")]
