"""The history recorder: thread safety, JSONL round trip, op pairing, create resolution by title."""

import math
import threading

from taskraft.faults.history import History, Op, group_by_task, ops_from_events, resolve_creates


def _record(h: History, process: int, n: int) -> None:
    for i in range(n):
        op_id = h.invoke(process, "read", task_id=i)
        h.ok(op_id, None)


def test_threads_record_every_event_with_unique_ids():
    h = History()
    threads = [threading.Thread(target=_record, args=(h, p, 200)) for p in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = h.ops()
    assert len(ops) == 2000 and len({o.op_id for o in ops}) == 2000
    assert all(o.outcome == "ok" and o.complete >= o.invoke for o in ops)


def test_jsonl_round_trip_and_pending_invoke_is_info():
    h = History()
    a = h.invoke(1, "create", title="alpha", args={"title": "alpha", "status": "todo"}, key="k1")
    h.info(a, "timeout", attempts=3)
    b = h.invoke(2, "update", task_id=7, args={"fields": {"status": "done"}, "if_match": 1})
    h.invoke(3, "delete", task_id=7)  # never completes
    h.fail(b, "precondition_failed")
    back = History.from_jsonl(h.to_jsonl())
    assert back.events() == h.events()
    ops = {o.op_id: o for o in back.ops()}
    assert ops[a].title == "alpha" and ops[a].attempts == 3 and ops[a].key == "k1" and ops[a].end == math.inf
    assert ops[b].outcome == "fail" and ops[b].error == "precondition_failed" and ops[b].end == ops[b].complete
    assert ops[3].outcome == "info" and ops[3].complete is None and ops[3].end == math.inf
    assert back.invoke(1, "read") == 4  # ids continue after a reload


def test_create_ok_takes_its_id_from_the_response():
    h = History()
    c = h.invoke(1, "create", title="t", args={"title": "t"})
    h.ok(c, {"id": 5, "title": "t", "version": 1})
    assert ops_from_events(h.events())[0].task_id == 5


def test_info_create_resolved_by_title_and_grouped():
    ops = [
        Op(1, 1, "create", 0.0, 1.0, "info", title="x", args={"title": "x"}),
        Op(2, 2, "read", 2.0, 3.0, "ok", task_id=9, value={"id": 9, "title": "x", "version": 1}),
        Op(3, 3, "list", 2.0, 3.0, "ok", value=[]),
    ]
    resolved, dupes = resolve_creates(ops)
    assert resolved == {"x": 9} and dupes == {}
    groups = group_by_task(ops)
    assert [o.op_id for o in groups[9]] == [1, 2] and [o.op_id for o in groups[None]] == [3]
    assert ops[0].task_id is None  # the input is not mutated


def test_title_set_by_an_update_does_not_count_as_a_second_create():
    ops = [
        Op(1, 1, "create", 0.0, 1.0, "ok", task_id=1, title="x", value={"id": 1, "title": "x", "version": 1}),
        Op(1, 2, "update", 2.0, 3.0, "ok", task_id=2, args={"fields": {"title": "x"}},
           value={"id": 2, "title": "x", "version": 2}),
    ]
    assert resolve_creates(ops) == ({"x": 1}, {})
