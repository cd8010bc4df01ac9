"""Exactly-once: the raft_log holds each request once and no retried create is applied twice."""

from taskraft.faults.checkers import exactly_once
from taskraft.faults.history import Op


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
